import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as reportCommand } from '../src/commands/report.js';
import { openLedgerDb } from '../src/ledger/openLedger.js';
import { ledgerPath } from '../src/report/commandSupport.js';
import { queryUsage } from '../src/report/queryUsage.js';
import { addKnownTraffic, type KnownCall, MILLI_USD, memoryLedger, USD } from './support/ledgerFixture.js';

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
let stateDir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-report-'));
  stateDir = join(dir, 'state');
  const db = openLedgerDb(ledgerPath(stateDir));
  addKnownTraffic(db, traffic());
  db.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function report(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
  try {
    const code = await reportCommand([...args, '--state-dir', stateDir]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('usage query on the rollups', () => {
  const db = memoryLedger();
  addKnownTraffic(db, traffic());
  const from = Math.floor(Date.now() / 86_400_000) * 86_400 - 29 * 86_400;
  const to = from + 30 * 86_400;

  it('totals keep exact and estimated apart and never price unpriced usage as $0', () => {
    const r = queryUsage(db, { fromSec: from, toSec: to });
    if (!r.ok) throw new Error(r.reason);
    expect([r.totals.costNano, r.totals.exactCostNano, r.totals.estimatedCostNano]).toEqual([
      4_000_000_000n,
      3_250_000_000n,
      750_000_000n,
    ]);
    expect([r.totals.requests, r.totals.unpricedRequests, r.totals.unpricedTokens]).toEqual([10, 4, 1200]);
  });

  it('per user and per task come from the principal rollups', () => {
    const byUser = queryUsage(db, { fromSec: from, toSec: to, groupBy: 'user' });
    const byTask = queryUsage(db, {
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

  it('groups by UTC day of each record', () => {
    const r = queryUsage(db, { fromSec: from, toSec: to, groupBy: 'day' });
    if (!r.ok) throw new Error(r.reason);
    expect(r.rows.map((x) => [x.key, x.costNano])).toEqual([
      [day(2), 2_000_000_000n],
      [day(1), 2_000_000_000n],
    ]);
  });

  it('refuses combinations the ledger does not keep', () => {
    expect(queryUsage(db, { fromSec: from, toSec: to, groupBy: 'user', filters: { task: 'x' } })).toEqual({
      ok: false,
      reason:
        'users and tasks cannot be combined in one query (group by one, filter by the other is not kept)',
    });
    expect(
      queryUsage(db, { fromSec: from, toSec: to, groupBy: 'tenant', filters: { user: 'alice' } }),
    ).toEqual({
      ok: false,
      reason: 'tenant cannot be combined with user: per-user usage is not kept per tenant',
    });
  });
});

describe('spendline report', () => {
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
