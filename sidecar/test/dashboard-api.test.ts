import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogramQuantileMs } from '../src/api/dashboardApi.js';
import { createUsageApi } from '../src/api/usageApi.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { DURATION_BUCKETS } from '../src/metrics.js';
import { compactRollups } from '../src/retention/compactRollups.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
import { runUntilCaughtUp, tempDir } from './support/sidecarHarness.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const tmp = tempDir('spendline-dashboard-api-');
afterAll(() => tmp.cleanup());

interface Call {
  at: string;
  model: string;
  user: string;
  costNano: number;
  durationMs: number;
  ttftMs?: number;
  error?: string;
}

// Mondays: 2026-11-02, 11-09, 11-16, 11-23, 11-30. Models the catalog does not price: the emitter cost is exact.
const CALLS: Call[] = [
  { at: '2026-10-31T23:30:00Z', model: 'acme-a', user: 'alice', costNano: 1_000, durationMs: 100 },
  { at: '2026-11-01T10:00:00Z', model: 'acme-a', user: 'alice', costNano: 2_000, durationMs: 100 },
  {
    at: '2026-11-02T00:10:00Z',
    model: 'acme-b',
    user: 'bob',
    costNano: 4_000,
    durationMs: 3000,
    ttftMs: 300,
  },
  {
    at: '2026-11-08T23:59:00Z',
    model: 'acme-b',
    user: 'bob',
    costNano: 8_000,
    durationMs: 100,
    error: 'timeout',
  },
  { at: '2026-11-30T00:00:00Z', model: 'acme-a', user: 'carol', costNano: 16_000, durationMs: 100 },
  {
    at: '2026-12-01T09:15:00Z',
    model: 'acme-a',
    user: 'alice',
    costNano: 32_000,
    durationMs: 100,
    error: 'RateLimitError',
  },
  {
    at: '2026-12-01T09:45:00Z',
    model: 'acme-c',
    user: 'alice',
    costNano: 64_000,
    durationMs: 100,
    error: 'RateLimitError',
  },
];

function writeCalls(file: string): void {
  writeFileSync(
    file,
    CALLS.map(
      (c, i) =>
        `${JSON.stringify({
          ts: c.at,
          id: `c${i}`,
          provider: 'acme',
          model: c.model,
          service: 'svc',
          user_id: c.user,
          usage: { prompt_tokens: 10, completion_tokens: 5 },
          cost_usd: (c.costNano / 1e9).toFixed(9),
          duration_ms: c.durationMs,
          ...(c.ttftMs === undefined ? {} : { ttft_ms: c.ttftMs }),
          ...(c.error === undefined ? {} : { error_type: c.error }),
        })}\n`,
    ).join(''),
  );
}

describe.each(LEDGER_BACKENDS)('usage API for the status page (%s)', (kind) => {
  testLedgers(kind); // starts the file's PostgreSQL server early (postgres)
  let db: LedgerStore;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const file = join(tmp.dir, 'usage.jsonl');
    writeCalls(file);
    const stateDir = join(tmp.dir, `state-${kind}`);
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    await runUntilCaughtUp(stateDir, { jsonlGlobs: [file], now: () => NOW, ledgerUrl });
    db = await openLedgerStore({ url: ledgerUrl, stateDir });
    const app = express();
    app.use(
      '/api',
      createUsageApi(db, () => NOW),
    );
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await db?.close();
  });

  async function get<T>(path: string): Promise<T> {
    const res = await fetch(`${base}${path}`);
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  }

  const nanoOf = (usd: string) => Math.round(Number(usd) * 1e9);

  it('groups by hour, week (its Monday) and month', async () => {
    const range = 'from=2026-10-01&to=2026-12-02';
    type R = { rows: Record<string, string | number>[] };
    const weeks = await get<R>(`/api/usage?${range}&group_by=week`);
    expect(weeks.rows.map((r) => [r.week, nanoOf(r.cost_usd as string)])).toEqual([
      ['2026-10-26', 3_000],
      ['2026-11-02', 12_000],
      ['2026-11-30', 112_000],
    ]);
    const months = await get<R>(`/api/usage?${range}&group_by=month`);
    expect(months.rows.map((r) => [r.month, r.requests])).toEqual([
      ['2026-10', 1],
      ['2026-11', 4],
      ['2026-12', 2],
    ]);
    const hours = await get<R>('/api/usage?from=2026-12-01&to=2026-12-02&group_by=hour');
    expect(hours.rows.map((r) => [r.hour, r.requests])).toEqual([['2026-12-01T09:00:00Z', 2]]);
  });

  it('searches group keys (rows only; totals cover every group)', async () => {
    type R = { rows: { user: string }[]; group_count: number; totals: { requests: number } };
    const r = await get<R>('/api/usage?from=2026-10-01&to=2026-12-02&group_by=user&search=AL');
    expect(r.rows.map((x) => x.user)).toEqual(['alice']);
    expect(r.group_count).toBe(1);
    expect(r.totals.requests).toBe(7);
  });

  it('answers latency percentiles by model from the histogram buckets, and errors by type', async () => {
    type L = { rows: { model: string; duration: Record<string, unknown>; ttft: Record<string, unknown> }[] };
    const lat = await get<L>('/api/latency?from=2026-10-01&to=2026-12-02');
    const a = lat.rows.find((r) => r.model === 'acme-a');
    // Four calls of 100 ms: all in the (80 ms, 160 ms] bucket; p50 interpolates to its middle.
    expect(a?.duration).toEqual({ count: 4, p50_ms: 120, p90_ms: 152, p99_ms: 159.2 });
    expect(a?.ttft).toEqual({ count: 0, p50_ms: null, p90_ms: null, p99_ms: null });
    const b = lat.rows.find((r) => r.model === 'acme-b');
    expect(b?.ttft).toMatchObject({ count: 1 });
    expect(b?.duration).toMatchObject({ count: 2 });
    // Only December: one range, one model fewer.
    const dec = await get<L>('/api/latency?from=2026-12-01&to=2026-12-02');
    expect(dec.rows.map((r) => r.model).sort()).toEqual(['acme-a', 'acme-c']);

    type E = { errors: number; rows: { error_type: string; model: string; requests: number }[] };
    const errs = await get<E>('/api/errors?from=2026-10-01&to=2026-12-02');
    expect(errs.errors).toBe(3);
    expect(errs.rows).toEqual([
      { error_type: 'RateLimitError', provider: 'acme', model: 'acme-a', requests: 1 },
      { error_type: 'RateLimitError', provider: 'acme', model: 'acme-c', requests: 1 },
      { error_type: 'timeout', provider: 'acme', model: 'acme-b', requests: 1 },
    ]);
    const budgets = await get<{ configured: boolean }>('/api/budgets');
    expect(budgets.configured).toBe(false);
  });

  it('keeps latency and errors exactly when old hours are folded into days', async () => {
    const before = await Promise.all([
      get('/api/latency?from=2026-10-01&to=2026-12-02'),
      get('/api/errors?from=2026-10-01&to=2026-12-02'),
    ]);
    const folded = await compactRollups(db, NOW + 200 * 86_400_000);
    expect(folded.foldedUsageRows).toBeGreaterThan(0);
    expect(await db.value('SELECT COUNT(*) FROM latency_rollup WHERE bucket_seconds = 3600')).toBe(0);
    expect(await db.value('SELECT COUNT(*) FROM error_rollup WHERE bucket_seconds = 3600')).toBe(0);
    const after = await Promise.all([
      get('/api/latency?from=2026-10-01&to=2026-12-02'),
      get('/api/errors?from=2026-10-01&to=2026-12-02'),
    ]);
    expect(after).toEqual(before);
  });

  it('interpolates quantiles like histogram_quantile and marks the open +Inf bucket', () => {
    const counts = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
    expect(histogramQuantileMs(DURATION_BUCKETS, counts, 0.5)).toBeNull();
    counts[0] = 2; // (0, 10 ms]
    counts[DURATION_BUCKETS.length] = 2; // > 81.92 s
    expect(histogramQuantileMs(DURATION_BUCKETS, counts, 0.5)).toBe(10);
    expect(histogramQuantileMs(DURATION_BUCKETS, counts, 0.25)).toBe(5);
    expect(histogramQuantileMs(DURATION_BUCKETS, counts, 0.99)).toEqual({ over_ms: 81920 });
  });
});
