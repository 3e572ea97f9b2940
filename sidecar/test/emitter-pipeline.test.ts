/**
 * All third-party emitter fixtures through the real counting pipeline (tailer, decoder, dedup, pricing,
 * ledger on SQLite and on PostgreSQL, metrics), twice (a restart reads nothing new): every reported call is one request in
 * llm_requests_total, failed ones with status="error", usage-less ones in
 * llm_unknown_usage_requests_total and never priced as $0 (nor as unpriced: only calls with usage of a
 * model the catalog lacks are); the report shows them.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { usageToTable } from '../src/report/formatUsage.js';
import { queryUsage } from '../src/report/queryUsage.js';
import { EMITTER_FIXTURE_DIR, EMITTERS, expectedCalls, UNPRICED_MODELS } from './support/emitterTruth.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { registryTotals, runUntilCaughtUp, tempDir } from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe.each(LEDGER_BACKENDS)('third-party emitters through the counting pipeline (%s)', (kind) => {
  it('counts every reported call once: errors and unknown usage in their own series, never $0', async () => {
    const t = tempDir('spendline-emitters-');
    cleanups.push(t.cleanup);
    const files = Object.keys(EMITTERS).map((e) => {
      const to = join(t.dir, `${e}.otlp.jsonl`);
      copyFileSync(join(EMITTER_FIXTURE_DIR, `${e}.otlp.jsonl`), to);
      return to;
    });
    const want = Object.keys(EMITTERS).flatMap((e) => expectedCalls(e));
    const unknown = want.filter((w) => w.usageType === 'unknown');
    const state = join(t.dir, 'state');
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    for (let life = 0; life < 2; life++) {
      const m = await runUntilCaughtUp(state, { otlpGlobs: files, ledgerUrl });
      const totals = registryTotals(m);
      expect(totals.requests).toBe(want.length);
      expect(totals.errors).toBe(want.filter((w) => w.status === 'error').length);
      const unknownSeries = [...m.counters.unknownUsage.series.values()];
      const byStatus = (s: string) =>
        unknownSeries.filter((x) => x.values[3] === s).reduce((n, x) => n + x.total, 0);
      expect(byStatus('ok')).toBe(unknown.filter((w) => w.status === 'ok').length);
      expect(byStatus('error')).toBe(unknown.filter((w) => w.status === 'error').length);
      // No cost series and no "unpriced" for unknown usage: its cost is unknown, not $0 and not unpriced.
      expect([...m.counters.cost.series.values()].filter((s) => s.values[4] === 'unknown')).toEqual([]);
      // A call with known usage of a model the catalog does not price is unpriced (its cost unknown too).
      const unpricedSeries = [...m.counters.unpriced.series.values()];
      const unpriced = want.filter((w) => w.usageType !== 'unknown' && UNPRICED_MODELS.has(w.model));
      expect(unpricedSeries.reduce((n, x) => n + x.total, 0)).toBe(unpriced.length);
      expect(new Set(unpricedSeries.map((x) => x.values[1]))).toEqual(new Set(unpriced.map((w) => w.model)));
      expect([...m.counters.tokens.series.values()].filter((s) => s.values[4] === 'unknown')).toEqual([]);
    }
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: state });
    try {
      const r = await queryUsage(db, { fromSec: 0, toSec: 4_000_000_000, groupBy: 'service' });
      if (!r.ok) throw new Error(r.reason);
      expect(r.totals.requests).toBe(want.length);
      expect(r.totals.unknownUsageRequests).toBe(unknown.length);
      const table = usageToTable('service', r.rows, r.totals);
      expect(table).toContain(`No usage: ${unknown.length} requests arrived without token counts`);
      expect(table.split('\n').find((l) => l.startsWith('TOTAL'))).toMatch(/\+ unknown/);
    } finally {
      await db.close();
    }
  });
});
