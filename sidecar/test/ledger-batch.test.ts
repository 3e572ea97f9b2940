/**
 * The ledger's batch commit: all-or-nothing (a failing batch leaves the ledger, the dedup keys and
 * the registry untouched), totals restored into a fresh registry, few rows per batch, and hourly
 * rollups / per-user rows bucketed by each record's own timestamp.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { createPipelineStore } from '../src/ledger/pipelineStore.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { createSidecarMetrics } from '../src/metrics.js';
import { BatchEffects } from '../src/pipeline/batchEffects.js';
import { HASH_BYTES, hashKey } from '../src/pipeline/dedupIndex.js';
import type { FileCheckpoint } from '../src/tail/types.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
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

describe.each(LEDGER_BACKENDS)('ledger batch commit (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  /** The dedup keys a ledger holds: SQLite's rows of packed hashes, PostgreSQL's one row per key. */
  async function storedKeys(db: Awaited<ReturnType<typeof ledgers.open>>) {
    if (kind === 'sqlite') return db.all('SELECT seen_ms, hashes FROM dedup_batch');
    const rows = await db.all<{ seen_ms: number; hash: Buffer }>(
      'SELECT seen_ms, hash FROM dedup_claim ORDER BY seen_ms, hash',
    );
    const bySeen = new Map<number, Buffer[]>();
    for (const r of rows) bySeen.set(r.seen_ms, [...(bySeen.get(r.seen_ms) ?? []), r.hash]);
    return [...bySeen].map(([seen_ms, hs]) => ({ seen_ms, hashes: Buffer.concat(hs) }));
  }
  const sorted = (b: Buffer) => {
    const parts: Buffer[] = [];
    for (let i = 0; i < b.length; i += HASH_BYTES) parts.push(b.subarray(i, i + HASH_BYTES));
    return Buffer.concat(parts.sort(Buffer.compare));
  };

  it('commits a batch all-or-nothing and shows it in the registry only after the commit', async () => {
    const db = await ledgers.open();
    const metrics = createSidecarMetrics();
    const store = createPipelineStore(db, metrics);
    expect((await store.load()).checkpoints).toEqual([]);

    const ok = await store.commitBatch(
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

    await expect(
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
    ).rejects.toThrow();
    expect(metrics.counters.requests.total(LABELS)).toBe(2);
    expect(await db.all("SELECT total FROM metric_counter WHERE metric = 'llm_requests_total'")).toEqual([
      { total: 2 },
    ]);
    // The committed batch's two distinct keys (96-bit hashes); the failed batch left none.
    const keys = await storedKeys(db);
    expect(keys.map((k) => ({ ...k, hashes: sorted(k.hashes as Buffer) }))).toEqual([
      { seen_ms: 1_000, hashes: sorted(hashesOf(['k1', 'k2'])) },
    ]);
    expect(await db.value('SELECT count(*) FROM label_value')).toBe(0);
    expect(await db.all('SELECT "offset" AS "offset" FROM file_checkpoint')).toEqual([{ offset: 100 }]);

    // A fresh registry restores exactly the committed totals (cost kept as integer nano-USD).
    const again = createSidecarMetrics();
    const state = await createPipelineStore(db, again).load();
    expect(state.checkpoints).toEqual([cp(100)]);
    expect(again.counters.requests.total(LABELS)).toBe(2);
    expect(again.counters.cost.total(['openai', 'gpt-4o', 'svc', '', 'exact'])).toBe(1_500_000_001);
    expect(again.histograms.duration.state(LABELS.slice(0, 4))).toEqual({
      counts: [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      sum: 0.03,
      count: 1,
    });
  });

  it('expires dedup keys by time: a key is a duplicate inside the window and new after it', async () => {
    const db = await ledgers.open();
    const metrics = createSidecarMetrics();
    const store = createPipelineStore(db, metrics);
    const claimAt = async (nowMs: number) => {
      let fresh = false;
      await store.commitBatch(
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
    const seen: boolean[] = [];
    for (const at of [0, 59_000, 59_999, 60_999]) seen.push(await claimAt(at));
    expect(seen).toEqual([true, false, false, false]);
    // Keys keep their first-seen time; past the window (one-second granularity) the key is new again.
    expect(await claimAt(61_000)).toBe(true);
    if (kind === 'sqlite')
      expect(await db.all('SELECT seen_ms FROM dedup_batch')).toEqual([{ seen_ms: 61_000 }]);
    // A restarted sidecar knows the committed keys: still a duplicate inside the window (SQLite: loaded
    // at start; PostgreSQL: the commit finds the key taken and the batch is counted again without it).
    const again = createPipelineStore(db, createSidecarMetrics());
    await again.load();
    const claimed: boolean[] = [];
    await again.commitBatch(
      (claim) => {
        claimed.push(claim('same-id'), claim('other-id'));
        return new BatchEffects(metrics);
      },
      [],
      62_000,
      60_000,
    );
    // The last attempt's claims are the ones that committed.
    expect(claimed.slice(-2)).toEqual([false, true]);
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
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    await runUntilCaughtUp(join(d, 'state'), { otlpGlobs: [file], batchBytes: 8 * 1024, ledgerUrl });

    const perHour = new Map<number, number>();
    const perUser = new Map<string, number>();
    for (const c of g.truth.callList ?? []) {
      const hour = Math.floor(c.timestampMs / 3_600_000) * 3600;
      perHour.set(hour, (perHour.get(hour) ?? 0) + 1);
      if (c.userId !== '') perUser.set(c.userId, (perUser.get(c.userId) ?? 0) + c.tokens.inputTokens);
    }
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: join(d, 'state') });
    cleanups.push(() => void db.close());
    const hours = await db.all<{ h: number; n: number }>(
      'SELECT bucket_start AS h, sum(requests) AS n FROM usage_rollup WHERE bucket_seconds = 3600 GROUP BY bucket_start ORDER BY h',
    );
    expect(hours).toEqual([...perHour].sort((a, b) => a[0] - b[0]).map(([h, n]) => ({ h, n })));
    expect(hours.length).toBe(2);
    const users = await db.all<{ u: string; t: number }>(
      `SELECT principal_id AS u, sum(input_tokens + cache_read_tokens + cache_write_tokens) AS t
       FROM usage_rollup_principal WHERE principal_kind = 'user' GROUP BY principal_id ORDER BY u`,
    );
    expect(users).toEqual([...perUser].sort((a, b) => a[0].localeCompare(b[0])).map(([u, t]) => ({ u, t })));
    // One metric_counter row per label set, however many batches wrote to it.
    const requestSeries = new Set(
      (g.truth.callList ?? []).map(
        (c) => `${c.provider}|${c.model}|${c.service}|${c.operation}|${c.errorType === '' ? 'ok' : 'error'}`,
      ),
    );
    expect(await db.value("SELECT count(*) FROM metric_counter WHERE metric = 'llm_requests_total'")).toBe(
      requestSeries.size,
    );
    const keyCount =
      kind === 'sqlite'
        ? Number(await db.value('SELECT sum(length(hashes)) FROM dedup_batch')) / HASH_BYTES
        : await db.value('SELECT count(*) FROM dedup_claim');
    expect(keyCount).toBe(4000);
  });
});

describe('ledger batch commit on a shared (PostgreSQL) ledger', () => {
  const ledgers = testLedgers('postgres');
  it('two sidecars on one ledger: a record the other committed first is counted again as a duplicate', async () => {
    const db = await ledgers.open();
    const metricsA = createSidecarMetrics();
    const metricsB = createSidecarMetrics();
    const a = createPipelineStore(db, metricsA);
    // A second sidecar: its own connection and identity on the same ledger.
    const other = await openLedgerStore({ url: ledgers.urlOf(db), stateDir: dir(), sidecarId: 'b' });
    cleanups.push(() => void other.close());
    const b = createPipelineStore(other, metricsB);
    await a.load();
    await b.load();
    const count = (metrics: typeof metricsA, keys: string[]) => (claim: (k: string) => boolean) => {
      const fx = new BatchEffects(metrics);
      for (const k of keys) if (claim(k)) fx.add('requests', LABELS, 1);
      return fx;
    };
    await a.commitBatch(count(metricsA, ['k1', 'k2']), [], 1_000, 86_400_000);
    let attempts = 0;
    await b.commitBatch(
      (claim) => {
        attempts++;
        return count(metricsB, ['k2', 'k3'])(claim);
      },
      [],
      2_000,
      86_400_000,
    );
    // B counted k2 and k3, found k2 committed by A, and counted again: k3 only.
    expect(attempts).toBe(2);
    expect(metricsA.counters.requests.total(LABELS)).toBe(2);
    expect(metricsB.counters.requests.total(LABELS)).toBe(1);
    const perSidecar = await db.all<{ sidecar_id: string; total: number }>(
      "SELECT sidecar_id, total FROM metric_counter WHERE metric = 'llm_requests_total' ORDER BY sidecar_id",
    );
    expect(perSidecar).toEqual([
      { sidecar_id: 'b', total: 1 },
      { sidecar_id: 'local', total: 2 },
    ]);
    expect(await db.value('SELECT count(*) FROM dedup_claim')).toBe(3);
    // B now knows k2 as committed: it is a duplicate at once, with no second attempt.
    attempts = 0;
    await b.commitBatch(
      (claim) => {
        attempts++;
        return count(metricsB, ['k2'])(claim);
      },
      [],
      3_000,
      86_400_000,
    );
    expect(attempts).toBe(1);
    expect(metricsB.counters.requests.total(LABELS)).toBe(1);
  });
});

describe('a commit whose outcome is unknown (the connection failed during it)', () => {
  const ledgers = testLedgers('postgres');
  /** The store, with commitBatch failing as a dropped connection would: after or before committing. */
  function dropping(db: LedgerStore, when: 'after' | 'before') {
    let armed = true;
    const store: LedgerStore = Object.create(db);
    store.commitBatch = async (ops, claim) => {
      if (armed && when === 'before') {
        armed = false;
        throw new Error('Connection terminated unexpectedly');
      }
      const r = await db.commitBatch(ops, claim);
      if (armed) {
        armed = false;
        throw new Error('Connection terminated unexpectedly');
      }
      return r;
    };
    return store;
  }
  for (const when of ['after', 'before'] as const) {
    it(`is settled from the ledger: the connection dropped ${when} PostgreSQL committed`, async () => {
      const db = await ledgers.open();
      const metrics = createSidecarMetrics();
      const store = createPipelineStore(dropping(db, when), metrics);
      await store.load();
      const fx = new BatchEffects(metrics);
      expect(store.claim('k1', 1_000, 86_400_000)).toBe(true);
      fx.add('requests', LABELS, 1);
      await expect(store.commit(fx, [cp(10)], 1_000, 86_400_000)).rejects.toThrow(/Connection terminated/);
      // In doubt: the key stays claimed and the registry shows nothing yet.
      expect(store.claim('k1', 1_000, 86_400_000)).toBe(false);
      expect(metrics.counters.requests.total(LABELS)).toBe(0);
      const settled = await store.resolveInDoubt();
      if (when === 'after') {
        expect(settled).toBe(fx);
        expect(metrics.counters.requests.total(LABELS)).toBe(1);
      } else {
        // It did not commit: the key is free again, and the batch is counted and committed anew.
        expect(settled).toBeNull();
        expect(store.claim('k1', 2_000, 86_400_000)).toBe(true);
        const again = new BatchEffects(metrics);
        again.add('requests', LABELS, 1);
        expect((await store.commit(again, [cp(10)], 2_000, 86_400_000)).ok).toBe(true);
      }
      expect(await db.all("SELECT total FROM metric_counter WHERE metric = 'llm_requests_total'")).toEqual([
        { total: 1 },
      ]);
      expect(await db.value('SELECT count(*) FROM dedup_claim')).toBe(1);
      expect(await store.resolveInDoubt()).toBeNull();
    });
  }
});
