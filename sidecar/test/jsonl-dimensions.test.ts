/**
 * Multi-source JSONL usage logs through the real pipeline: agent, execution path and source (the
 * record's, else its file's) are ledger dimensions that `spendline report --by` and the usage API's
 * `group_by=` answer; a ledger written before them (schema 3) keeps every row when migrated.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/ledger/migrations.js';
import { applyMigrations, openLedgerDb } from '../src/ledger/openLedger.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { queryUsage } from '../src/report/queryUsage.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { runUntilCaughtUp, tempDir } from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
function dir() {
  const t = tempDir('spendline-dims-');
  cleanups.push(t.cleanup);
  return t.dir;
}
const jsonl = (rows: object[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');
const TS = '2026-01-02T10:00:00Z';

describe.each(LEDGER_BACKENDS)('JSONL attribution dimensions (%s)', (kind) => {
  it('cuts an agent, execution path or source over 128 characters as every other dimension, and finds it by its whole value', async () => {
    const d = dir();
    const agent = `agent-${'a'.repeat(5000)}`;
    const path = 'p/'.repeat(200);
    const source = 's'.repeat(300);
    const file = join(d, 'usage.jsonl');
    writeFileSync(
      file,
      jsonl([
        {
          id: 'long',
          ts: TS,
          provider: 'openai',
          model: 'gpt-4o',
          agent,
          execution_path: path,
          source,
          usage: { prompt_tokens: 5, completion_tokens: 1 },
        },
      ]),
    );
    const state = join(d, 'state');
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    const metrics = await runUntilCaughtUp(state, { jsonlGlobs: [file], ledgerUrl });
    expect(
      [...metrics.counters.labelTruncated.series.values()].map((x) => [x.values[0], x.total]).sort(),
    ).toEqual([
      ['agent', 1],
      ['execution_path', 1],
      ['source', 1],
    ]);
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: state });
    cleanups.push(() => void db.close());
    const window = { fromSec: Date.parse('2026-01-01') / 1000, toSec: Date.parse('2026-01-03') / 1000 };
    for (const [groupBy, whole] of [
      ['agent', agent],
      ['execution_path', path],
      ['source', source],
    ] as const) {
      const r = await queryUsage(db, { ...window, groupBy });
      if (!r.ok) throw new Error(r.reason);
      expect(r.rows.map((x) => x.key.length)).toEqual([128]);
      expect(r.rows[0]?.key.startsWith(whole.slice(0, 100))).toBe(true);
      const found = await queryUsage(db, { ...window, groupBy: 'model', filters: { [groupBy]: whole } });
      if (!found.ok) throw new Error(found.reason);
      expect(found.rows.map((x) => x.requests)).toEqual([1]);
    }
  });

  it('reports by agent, execution path and source (record source, else the file name), exactly', async () => {
    const d = dir();
    mkdirSync(join(d, 'logs'));
    const research = join(d, 'logs', 'research-agents.jsonl');
    const coder = join(d, 'logs', 'coder.jsonl.1');
    writeFileSync(
      research,
      jsonl([
        {
          id: 'a',
          ts: TS,
          provider: 'openai',
          model: 'gpt-4o',
          agent: 'planner',
          execution_path: 'plan',
          usage: { prompt_tokens: 100, completion_tokens: 10 },
        },
        {
          id: 'b',
          ts: TS,
          provider: 'openai',
          model_name: 'gpt-4o',
          agent: 'searcher',
          execution_path: 'plan/search',
          token_usage: { input_tokens: 200, output_tokens: 20 },
        },
        {
          id: 'c',
          ts: TS,
          provider: 'openai',
          model: 'gpt-4o',
          agent: 'searcher',
          execution_path: 'plan/search',
          source: 'claude-code',
          usage: { total_tokens: 50 },
        },
      ]),
    );
    writeFileSync(
      coder,
      jsonl([
        {
          id: 'd',
          ts: TS,
          provider: 'openai',
          model: 'gpt-4o',
          agent: 'coder',
          usage: { prompt_tokens: 7, completion_tokens: 3 },
          estimated: true,
        },
        {
          id: 'e',
          ts: TS,
          provider: 'openai',
          model: 'gpt-4o',
          agent: 'coder',
          error_type: 'RateLimitError',
        },
      ]),
    );
    const state = join(d, 'state');
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    await runUntilCaughtUp(state, { jsonlGlobs: [join(d, 'logs', '*')], ledgerUrl });
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: state });
    cleanups.push(() => void db.close());
    const window = { fromSec: Date.parse('2026-01-01') / 1000, toSec: Date.parse('2026-01-03') / 1000 };
    const by = async (groupBy: 'agent' | 'execution_path' | 'source') => {
      const r = await queryUsage(db, { ...window, groupBy });
      if (!r.ok) throw new Error(r.reason);
      return Object.fromEntries(
        r.rows.map((x) => [x.key, [x.requests, x.inputTokens + x.outputTokens, x.unknownUsageRequests]]),
      );
    };
    expect(await by('agent')).toEqual({ planner: [1, 110, 0], searcher: [2, 270, 0], coder: [2, 10, 1] });
    expect(await by('execution_path')).toEqual({
      plan: [1, 110, 0],
      'plan/search': [2, 270, 0],
      '': [2, 10, 1],
    });
    expect(await by('source')).toEqual({
      'research-agents': [2, 330, 0],
      'claude-code': [1, 50, 0],
      coder: [2, 10, 1],
    });
    const types = await db.all(
      'SELECT usage_type AS t, SUM(requests) AS n FROM usage_rollup GROUP BY usage_type ORDER BY usage_type',
    );
    expect(types).toEqual([
      { t: 'estimated', n: 1 },
      { t: 'exact', n: 2 },
      { t: 'total_only', n: 1 },
      { t: 'unknown', n: 1 },
    ]);
    const filtered = await queryUsage(db, {
      ...window,
      filters: { agent: 'searcher', source: 'claude-code' },
    });
    expect(filtered.ok && filtered.totals.requests).toBe(1);
    expect(await queryUsage(db, { ...window, groupBy: 'agent', filters: { user: 'u' } })).toEqual({
      ok: false,
      reason: 'agent cannot be combined with user: per-user usage is not kept per agent',
    });
  });
});

describe('JSONL attribution dimensions: a SQLite ledger from before them', () => {
  it('migrates a schema-3 ledger to schema 4 keeping every rollup row, the new dimensions unset', () => {
    const d = dir();
    const path = join(d, 'ledger.sqlite');
    const old = new Database(path);
    applyMigrations(
      old,
      MIGRATIONS.filter((m) => m.version <= 3),
    );
    old
      .prepare(
        `INSERT INTO usage_rollup (bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type, requests, input_tokens, cost_nano_usd)
         VALUES (3600, 3600, 'openai', 'gpt-4o', 'svc', 'chat', 'f', 't', 'exact', 3, 300, 1500000000)`,
      )
      .run();
    old.close();
    const db = openLedgerDb(path);
    cleanups.push(() => db.close());
    expect(db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(4);
    expect(
      db
        .prepare(
          'SELECT service, agent, execution_path, source, requests, input_tokens, cost_nano_usd FROM usage_rollup',
        )
        .all(),
    ).toEqual([
      {
        service: 'svc',
        agent: '',
        execution_path: '',
        source: '',
        requests: 3,
        input_tokens: 300,
        cost_nano_usd: 1500000000,
      },
    ]);
  });
});
