/**
 * The ledger's batch commit: all-or-nothing (a failing batch leaves the ledger, the dedup keys and
 * the registry untouched), totals restored into a fresh registry, few rows per batch, and hourly
 * rollups / per-user rows bucketed by each record's own timestamp.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedgerDb } from '../src/ledger/openLedger.js';
import { createPipelineStore } from '../src/ledger/pipelineStore.js';
import { createSidecarMetrics } from '../src/metrics.js';
import { BatchEffects } from '../src/pipeline/batchEffects.js';
import { HASH_BYTES, hashKey } from '../src/pipeline/dedupIndex.js';
import type { FileCheckpoint } from '../src/tail/types.js';
import { generateUsageLines } from './support/otlpLines.js';
import { runUntilCaughtUp, tempDir } from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function dir(): string {
  const t = tempDir('spendline-ledger-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const cp = (offset: number): FileCheckpoint => ({
  key: '1:2:abc',
  path: '/x/genai.json',
  dev: 1,
  ino: 2,
  fingerprint: 'abc',
  offset,
  kind: 'otlp',
});
const LABELS = ['openai', 'gpt-4o', 'svc', 'chat', 'ok'];
function hashesOf(keys: string[]): Buffer {
  const out = Buffer.alloc(keys.length * HASH_BYTES);
  keys.forEach((k, i) => {
    const h = hashKey(k);
    for (let lane = 0; lane < 3; lane++) out.writeUInt32LE(h[lane] as number, i * HASH_BYTES + lane * 4);
  });
  return out;
}

describe('ledger batch commit', () => {
  it('commits a batch all-or-nothing and shows it in the registry only after the commit', () => {
    const db = openLedgerDb(join(dir(), 'ledger.sqlite'));
    cleanups.push(() => db.close());
    const metrics = createSidecarMetrics();
    const store = createPipelineStore(db, metrics);
    expect(store.load().checkpoints).toEqual([]);

    const ok = store.commitBatch(
      (claim) => {
        const fx = new BatchEffects(metrics);
        expect([claim('k1'), claim('k1'), claim('k2')]).toEqual([true, false, true]);
        fx.add('requests', LABELS, 2);
        fx.add('cost', ['openai', 'gpt-4o', 'svc', '', 'exact'], 1_500_000_001);
        fx.observe('duration', LABELS.slice(0, 4), 0.03);
        // The registry must not show the batch while it is being counted.
        expect(metrics.counters.requests.total(LABELS)).toBe(0);
        return fx;
      },
      [cp(100)],
      1_000,
      86_400_000,
    );
    expect(ok.counters.size).toBe(2);
    expect(metrics.counters.requests.total(LABELS)).toBe(2);

    expect(() =>
      store.commitBatch(
        (claim) => {
          expect(claim('k3')).toBe(true);
          const fx = new BatchEffects(metrics);
          fx.add('requests', LABELS, 40);
          fx.admittedLabels = [['model', 'gpt-4o']];
          return fx;
        },
        // A duplicate identity violates file_checkpoint's key: the write fails after everything else.
        [cp(200), cp(200)],
        2_000,
        86_400_000,
      ),
    ).toThrow();
    expect(metrics.counters.requests.total(LABELS)).toBe(2);
    const counter = db
      .prepare("SELECT total FROM metric_counter WHERE metric = 'llm_requests_total'")
      .pluck();
    expect(counter.all()).toEqual([2]);
    // The committed batch's two distinct keys, as one row of 96-bit hashes; the failed batch left none.
    expect(db.prepare('SELECT seen_ms, hashes FROM dedup_batch').all()).toEqual([
      { seen_ms: 1_000, hashes: hashesOf(['k1', 'k2']) },
    ]);
    expect(db.prepare('SELECT count(*) FROM label_value').pluck().get()).toBe(0);
    expect(db.prepare('SELECT offset FROM file_checkpoint').pluck().all()).toEqual([100]);

    // A fresh registry restores exactly the committed totals (cost kept as integer nano-USD).
    const again = createSidecarMetrics();
    const state = createPipelineStore(db, again).load();
    expect(state.checkpoints).toEqual([cp(100)]);
    expect(again.counters.requests.total(LABELS)).toBe(2);
    expect(again.counters.cost.total(['openai', 'gpt-4o', 'svc', '', 'exact'])).toBe(1_500_000_001);
    expect(again.histograms.duration.state(LABELS.slice(0, 4))).toEqual({
      counts: [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      sum: 0.03,
      count: 1,
    });
  });

  it('expires dedup keys by time: a key is a duplicate inside the window and new after it', () => {
    const db = openLedgerDb(join(dir(), 'ledger.sqlite'));
    cleanups.push(() => db.close());
    const metrics = createSidecarMetrics();
    const store = createPipelineStore(db, metrics);
    const claimAt = (nowMs: number) => {
      let fresh = false;
      store.commitBatch(
        (claim) => {
          fresh = claim('same-id');
          return new BatchEffects(metrics);
        },
        [],
        nowMs,
        60_000,
      );
      return fresh;
    };
    expect([claimAt(0), claimAt(59_000), claimAt(59_999), claimAt(60_999)]).toEqual([
      true,
      false,
      false,
      false,
    ]);
    // Keys keep their first-seen time; past the window (one-second granularity) the row is gone.
    expect(claimAt(61_000)).toBe(true);
    expect(db.prepare('SELECT seen_ms FROM dedup_batch').pluck().all()).toEqual([61_000]);
    // A restarted sidecar loads the committed keys: still a duplicate inside the window.
    const again = createPipelineStore(db, createSidecarMetrics());
    again.load();
    expect(again.claim('same-id', 62_000, 60_000)).toBe(false);
    expect(again.claim('other-id', 62_000, 60_000)).toBe(true);
    expect(again.claim('same-id', 122_000, 60_000)).toBe(true);
  });

  it('aggregates many records into few rows, bucketed hourly by the record time, with one row per user', async () => {
    const d = dir();
    const file = join(d, 'genai.json');
    const g = generateUsageLines({
      records: 4000,
      perLine: 50,
      seed: 9,
      models: 2,
      services: 2,
      features: 1,
      users: 3,
      // ~17 minutes of calls that cross an hour boundary.
      startMs: Date.UTC(2026, 0, 1, 0, 50),
      withCalls: true,
    });
    writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));
    await runUntilCaughtUp(join(d, 'state'), { otlpGlobs: [file], batchBytes: 8 * 1024 });

    const perHour = new Map<number, number>();
    const perUser = new Map<string, number>();
    for (const c of g.truth.callList ?? []) {
      const hour = Math.floor(c.timestampMs / 3_600_000) * 3600;
      perHour.set(hour, (perHour.get(hour) ?? 0) + 1);
      if (c.userId !== '') perUser.set(c.userId, (perUser.get(c.userId) ?? 0) + c.tokens.inputTokens);
    }
    const db = openLedgerDb(join(d, 'state', 'ledger.sqlite'));
    cleanups.push(() => db.close());
    const hours = db
      .prepare(
        'SELECT bucket_start AS h, sum(requests) AS n FROM usage_rollup WHERE bucket_seconds = 3600 GROUP BY h ORDER BY h',
      )
      .all() as { h: number; n: number }[];
    expect(hours).toEqual([...perHour].sort((a, b) => a[0] - b[0]).map(([h, n]) => ({ h, n })));
    expect(hours.length).toBe(2);
    const users = db
      .prepare(
        `SELECT principal_id AS u, sum(input_tokens + cache_read_tokens + cache_write_tokens) AS t
         FROM usage_rollup_principal WHERE principal_kind = 'user' GROUP BY u ORDER BY u`,
      )
      .all() as { u: string; t: number }[];
    expect(users).toEqual([...perUser].sort((a, b) => a[0].localeCompare(b[0])).map(([u, t]) => ({ u, t })));
    // One metric_counter row per label set, however many batches wrote to it.
    const requestSeries = new Set(
      (g.truth.callList ?? []).map(
        (c) => `${c.provider}|${c.model}|${c.service}|${c.operation}|${c.errorType === '' ? 'ok' : 'error'}`,
      ),
    );
    expect(
      db.prepare("SELECT count(*) FROM metric_counter WHERE metric = 'llm_requests_total'").pluck().get(),
    ).toBe(requestSeries.size);
    const hashBytes = db.prepare('SELECT sum(length(hashes)) FROM dedup_batch').pluck().get();
    expect(hashBytes).toBe(4000 * HASH_BYTES);
  });
});
