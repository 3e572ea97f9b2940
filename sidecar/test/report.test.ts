import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as reportCommand } from '../src/commands/report.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { openPgStore } from '../src/ledger/pgStore.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { queryUsage } from '../src/report/queryUsage.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, sharedPostgres, testLedgers } from './support/ledgerBackends.js';
import { addKnownTraffic, type KnownCall, MILLI_USD, USD } from './support/ledgerFixture.js';

const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
const traffic = (): KnownCall[] => [
  {
    at: `${day(1)}T09:15:00Z`,
    provider: 'openai',
    model: 'gpt-4o',
    service: 'chat',
    feature: 'answer',
    tenant: 't1',
    user: 'alice',
    task: 'task-1',
    costNano: 1250 * MILLI_USD,
    requests: 3,
    inputTokens: 300,
    outputTokens: 30,
  },
  {
    at: `${day(1)}T10:15:00Z`,
    provider: 'openai',
    model: 'gpt-4o',
    service: 'chat',
    feature: 'answer',
    tenant: 't1',
    user: 'bob',
    task: 'task-2',
    usageType: 'estimated',
    costNano: 750 * MILLI_USD,
  },
  {
    at: `${day(2)}T23:59:59Z`,
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    service: 'search',
    feature: 'rank',
    tenant: 't2',
    user: 'alice',
    costNano: 2 * USD,
    requests: 2,
  },
  {
    at: `${day(2)}T12:00:00Z`,
    provider: 'anthropic',
    model: 'claude-next',
    service: 'search',
    feature: 'rank',
    tenant: 't2',
    user: 'alice',
    unpriced: true,
    requests: 4,
    inputTokens: 1000,
    outputTokens: 200,
  },
  // Outside a 30-day window.
  { at: `${day(40)}T12:00:00Z`, provider: 'openai', model: 'gpt-4o', service: 'chat', costNano: 100 * USD },
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-report-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A ledger holding `traffic()` as the report command finds it: `--state-dir` (SQLite) or
 * `--ledger` (a PostgreSQL database of its own).
 */
async function commandLedger(kind: LedgerStore['kind'], calls: KnownCall[]): Promise<string[]> {
  const stateDir = mkdtempSync(join(dir, 'state-'));
  const url = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
  const db = await openLedgerStore({ url, stateDir });
  try {
    await addKnownTraffic(db, calls);
  } finally {
    await db.close();
  }
  return url === undefined ? ['--state-dir', stateDir] : ['--ledger', url];
}

/** Runs the command in this process, capturing its output. */
async function runCommand(
  command: (argv: string[]) => Promise<number>,
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
  try {
    const code = await command(args);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe.each(LEDGER_BACKENDS)('reports (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  const afterAllClose: LedgerStore[] = [];
  afterAll(async () => {
    for (const s of afterAllClose) await s.close();
  });

  describe('usage query on the rollups', () => {
    let db: LedgerStore;
    beforeAll(async () => {
      db = await ledgers.open();
      await addKnownTraffic(db, traffic());
    });
    const from = Math.floor(Date.now() / 86_400_000) * 86_400 - 29 * 86_400;
    const to = from + 30 * 86_400;

    it('totals keep exact and estimated apart and never price unpriced usage as $0', async () => {
      const r = await queryUsage(db, { fromSec: from, toSec: to });
      if (!r.ok) throw new Error(r.reason);
      expect([r.totals.costNano, r.totals.exactCostNano, r.totals.estimatedCostNano]).toEqual([
        4_000_000_000n,
        3_250_000_000n,
        750_000_000n,
      ]);
      expect([r.totals.requests, r.totals.unpricedRequests, r.totals.unpricedTokens]).toEqual([10, 4, 1200]);
    });

    it('per user and per task come from the principal rollups', async () => {
      const byUser = await queryUsage(db, { fromSec: from, toSec: to, groupBy: 'user' });
      const byTask = await queryUsage(db, {
        fromSec: from,
        toSec: to,
        groupBy: 'task',
        filters: { provider: 'openai' },
      });
      if (!byUser.ok || !byTask.ok) throw new Error('query failed');
      expect(byUser.rows.map((r) => [r.key, r.costNano, r.unpricedRequests])).toEqual([
        ['alice', 3_250_000_000n, 4],
        ['bob', 750_000_000n, 0],
      ]);
      expect(byTask.rows.map((r) => [r.key, r.costNano])).toEqual([
        ['task-1', 1_250_000_000n],
        ['task-2', 750_000_000n],
      ]);
    });

    it('groups by UTC day of each record', async () => {
      const r = await queryUsage(db, { fromSec: from, toSec: to, groupBy: 'day' });
      if (!r.ok) throw new Error(r.reason);
      expect(r.rows.map((x) => [x.key, x.costNano])).toEqual([
        [day(2), 2_000_000_000n],
        [day(1), 2_000_000_000n],
      ]);
    });

    it('searches keys case-insensitively, with % and _ taken literally; totals cover every group', async () => {
      const search = async (groupBy: 'model' | 'provider', text: string) => {
        const r = await queryUsage(db, { fromSec: from, toSec: to, groupBy, search: text });
        if (!r.ok) throw new Error(r.reason);
        return [r.rows.map((x) => x.key), r.groupCount, r.totals.costNano];
      };
      expect(await search('model', 'CLAUDE')).toEqual([
        ['claude-sonnet-4-5', 'claude-next'],
        2,
        4_000_000_000n,
      ]);
      expect(await search('provider', 'Open')).toEqual([['openai'], 1, 4_000_000_000n]);
      expect(await search('model', '%')).toEqual([[], 0, 4_000_000_000n]);
      expect(await search('model', 'gpt_4o')).toEqual([[], 0, 4_000_000_000n]);
    });

    /**
     * A ledger whose text sorts differently by locale than by bytes: on PostgreSQL a database with an
     * ICU en-US collation, as production databases often have (this machine has only C locales).
     */
    async function localeSortedLedger(): Promise<LedgerStore> {
      if (kind === 'sqlite') return ledgers.open();
      const server = await sharedPostgres();
      const name = `icu_${process.pid}`;
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      try {
        await admin.query(
          `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`,
        );
      } finally {
        await admin.end();
      }
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      const store = await openPgStore({ url: url.toString(), sidecarId: 'local' });
      afterAllClose.push(store);
      return store;
    }

    it('orders equal costs by the bytes of their keys, and a limit keeps the biggest', async () => {
      const t = await localeSortedLedger();
      const at = `${day(1)}T08:00:00Z`;
      await addKnownTraffic(
        t,
        ['b', 'B', '_x', 'a-b'].map((feature) => ({ at, provider: 'openai', feature, costNano: USD })),
      );
      await addKnownTraffic(t, [{ at, provider: 'openai', feature: 'zz', costNano: 2 * USD }]);
      if (kind === 'postgres')
        // The database's own order differs: text without the ledger's byte collation sorts so.
        expect(
          (
            await t.all<{ x: string }>(
              "SELECT x FROM (VALUES ('b'), ('B'), ('_x'), ('a-b')) AS v(x) ORDER BY x",
            )
          ).map((r) => r.x),
        ).toEqual(['_x', 'a-b', 'b', 'B']);
      const r = await queryUsage(t, { fromSec: from, toSec: to, groupBy: 'feature' });
      const top = await queryUsage(t, { fromSec: from, toSec: to, groupBy: 'feature', limit: 2 });
      if (!r.ok || !top.ok) throw new Error('query failed');
      expect(r.rows.map((x) => x.key)).toEqual(['zz', 'B', '_x', 'a-b', 'b']);
      expect([top.rows.map((x) => x.key), top.groupCount, top.totals.costNano]).toEqual([
        ['zz', 'B'],
        5,
        6_000_000_000n,
      ]);
    });

    it('refuses combinations the ledger does not keep', async () => {
      expect(
        await queryUsage(db, { fromSec: from, toSec: to, groupBy: 'user', filters: { task: 'x' } }),
      ).toEqual({
        ok: false,
        reason:
          'users and tasks cannot be combined in one query (group by one, filter by the other is not kept)',
      });
      expect(
        await queryUsage(db, { fromSec: from, toSec: to, groupBy: 'tenant', filters: { user: 'alice' } }),
      ).toEqual({
        ok: false,
        reason: 'tenant cannot be combined with user: per-user usage is not kept per tenant',
      });
    });
  });

  describe('spendline report', () => {
    let ledgerArgs: string[] = [];
    beforeAll(async () => {
      ledgerArgs = await commandLedger(kind, traffic());
    });
    const report = (args: string[]) => runCommand(reportCommand, [...args, ...ledgerArgs]);

    it('prints a readable table by default with the unpriced usage called out', async () => {
      const r = await report(['--days-back', '30', '--by', 'provider']);
      expect(r.code).toBe(0);
      expect(r.out).toBe(
        [
          'Spend, last 30 UTC days by provider',
          '',
          'provider               cost  exact  estimated          unpriced  no usage  requests  tokens',
          '---------  ----------------  -----  ---------  ----------------  --------  --------  ------',
          'anthropic  $2.00 + unpriced  $2.00      $0.00  4 req / 1200 tok         -         6    1200',
          'openai                $2.00  $1.25      $0.75                 -         -         4     330',
          '---------  ----------------  -----  ---------  ----------------  --------  --------  ------',
          'TOTAL      $4.00 + unpriced  $3.25      $0.75  4 req / 1200 tok         -        10    1530',
          'Unpriced: 4 requests (1200 tokens) have no known price; their cost is NOT in the totals (add prices with --prices).',
          '',
        ].join('\n'),
      );
    });

    it('json, csv and markdown carry exact decimal USD', async () => {
      const json = JSON.parse((await report(['--by', 'feature', '--format', 'json'])).out);
      expect(json.totals.cost_usd).toBe('4.000000000');
      expect(json.totals.cost_complete).toBe(false);
      expect(json.rows.map((r: { feature: string; cost_usd: string }) => [r.feature, r.cost_usd])).toEqual([
        ['answer', '2.000000000'],
        ['rank', '2.000000000'],
      ]);
      const csv = (await report(['--by', 'tenant', '--format', 'csv'])).out.split('\r\n');
      expect(csv[0]).toBe(
        'tenant,cost_usd,exact_cost_usd,estimated_cost_usd,unpriced_requests,unpriced_tokens,requests,errors,input_tokens,cache_read_tokens,cache_write_tokens,output_tokens,reasoning_tokens,ocr_pages,embedding_inputs,unknown_usage_requests',
      );
      expect(csv[1]).toBe('t1,2.000000000,1.250000000,0.750000000,0,0,4,0,300,0,0,30,0,0,0,0');
      expect(csv[2]).toBe('t2,2.000000000,2.000000000,0.000000000,4,1200,6,0,1000,0,0,200,0,0,0,0');
      const md = (await report(['--by', 'user', '--format', 'markdown', '--provider', 'anthropic'])).out;
      expect(md).toContain('| alice | $2.00 + unpriced | $2.00 | $0.00 | 4 req / 1200 tok | - | 6 | 1200 |');
    });

    it('groups by agent, execution_path and source (unset here: the fixture has none)', async () => {
      for (const by of ['agent', 'execution_path', 'source']) {
        const r = await report(['--by', by, '--format', 'json']);
        expect(r.code).toBe(0);
        const json = JSON.parse(r.out);
        expect(json.rows.map((x: Record<string, unknown>) => [x[by], x.requests])).toEqual([['', 10]]);
      }
    });

    it('--top cuts the listed groups, never the total', async () => {
      const r = await report(['--by', 'model', '--top', '1']);
      const lines = r.out.split('\n');
      expect(lines.filter((l) => l.startsWith('TOTAL')).map((l) => l.split(/\s{2,}/))).toEqual([
        ['TOTAL', '$4.00 + unpriced', '$3.25', '$0.75', '4 req / 1200 tok', '-', '10', '1530'],
      ]);
      expect(lines.filter((l) => l.startsWith('gpt-') || l.startsWith('claude'))).toHaveLength(1);
      expect(lines).toContain('(2 more rows not shown: --top 0 lists all; the total covers every row)');
      const json = JSON.parse((await report(['--by', 'model', '--format', 'json', '--top', '1'])).out);
      expect([json.rows.length, json.totals.cost_usd]).toEqual([1, '4.000000000']);
    });

    it('a window that reaches back 45 days includes the older spend', async () => {
      const json = JSON.parse((await report(['--days-back', '45', '--format', 'json'])).out);
      expect(json.totals.cost_usd).toBe('104.000000000');
    });

    it('bad flags exit 2 with a clear message', async () => {
      expect(await report(['--by', 'colour'])).toEqual({
        code: 2,
        out: '',
        err: 'spendline: --by must be one of provider, model, service, feature, user, task, tenant, agent, execution_path, source, hour, day, week, month; got "colour"\n',
      });
      expect((await report(['--days-back', '0'])).err).toBe(
        'spendline: --days-back must be an integer 1..3660, got "0"\n',
      );
    });
  });
});
