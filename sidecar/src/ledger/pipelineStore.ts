import type { CounterName, HistogramName, SidecarMetrics } from '../metrics.js';
import type { BatchEffects } from '../pipeline/batchEffects.js';
import type { HistogramState } from '../pipeline/committedMetrics.js';
import { DedupIndex, HASH_BYTES } from '../pipeline/dedupIndex.js';
import type { FileCheckpoint } from '../tail/types.js';
import type { WriteOp } from './ledgerWriter.js';
import { LATENCY_COUNT_COLUMNS } from './migrations.js';
import { UPSERT_PRINCIPAL_SQL, UPSERT_USAGE_SQL, usageRowArgs } from './rollups.js';
import { type BatchResult, isTransientLedgerError, type LedgerStore } from './store.js';
import { UPSERT_TOTAL_SQL } from './usageTotals.js';

export interface PipelineState {
  checkpoints: FileCheckpoint[];
  labelValues: [string, string][];
  lastRecordMs: number;
  /** Id of the last committed usage event (0 before the first). */
  eventSeq: number;
}

/**
 * Adds a batch's delta in the ledger (exact int64), so a total past 2^53 (nano-USD) never rounds.
 * The per-sidecar tables are keyed by `sidecar_id` first (`LedgerStore.sidecarId`).
 */
const ADD_COUNTER_SQL = `INSERT INTO metric_counter (sidecar_id, metric, labels, total) VALUES (?, ?, ?, ?)
     ON CONFLICT (sidecar_id, metric, labels) DO UPDATE SET total = metric_counter.total + excluded.total`;
const UPSERT_HISTOGRAM_SQL = `INSERT INTO metric_histogram (sidecar_id, metric, labels, counts, sum, count) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (sidecar_id, metric, labels) DO UPDATE SET counts = excluded.counts, sum = excluded.sum, count = excluded.count`;
const INSERT_LABEL_SQL =
  'INSERT INTO label_value (sidecar_id, label, value) VALUES (?, ?, ?) ON CONFLICT (sidecar_id, label, value) DO NOTHING';
const CLEAR_CHECKPOINTS_SQL = 'DELETE FROM file_checkpoint WHERE sidecar_id = ?';
const INSERT_CHECKPOINT_SQL =
  'INSERT INTO file_checkpoint (sidecar_id, dev, ino, fingerprint, path, "offset", kind) VALUES (?, ?, ?, ?, ?, ?, ?)';
const UPSERT_LATENCY_SQL = `INSERT INTO latency_rollup (bucket_start, bucket_seconds, provider, model, metric, ${LATENCY_COUNT_COLUMNS.join(', ')})
     VALUES (?, 3600, ?, ?, ?, ${LATENCY_COUNT_COLUMNS.map(() => '?').join(', ')})
     ON CONFLICT (bucket_start, bucket_seconds, provider, model, metric)
     DO UPDATE SET ${LATENCY_COUNT_COLUMNS.map((c) => `${c} = latency_rollup.${c} + excluded.${c}`).join(', ')}`;
const UPSERT_ERROR_SQL = `INSERT INTO error_rollup (bucket_start, bucket_seconds, provider, model, service, error_type, requests)
     VALUES (?, 3600, ?, ?, ?, ?, ?) ON CONFLICT (bucket_start, bucket_seconds, provider, model, service, error_type)
     DO UPDATE SET requests = error_rollup.requests + excluded.requests`;
const SET_STATE_SQL = `INSERT INTO pipeline_state (sidecar_id, name, value) VALUES (?, ?, ?)
     ON CONFLICT (sidecar_id, name) DO UPDATE SET value = excluded.value`;

/** A batch commit's outcome: committed, or some of its keys were committed first by another sidecar. */
export type CommitOutcome = { ok: true; fx: BatchEffects } | { ok: false; taken: number };

/**
 * The counting pipeline's reads and its one write: a batch's counter totals, histogram buckets,
 * rollups, dedup keys, admitted label values and file checkpoints commit in ONE transaction, and only
 * then does the registry show them. A crash at any instant leaves the ledger at a batch boundary.
 *
 * Commit batches one after another: a batch's totals build on the committed ones.
 *
 * Dedup keys live in memory (DedupIndex; on SQLite loaded from `dedup_batch` by `load`): `claim`
 * consults them while a batch is counted, outside any transaction, and the commit stores the batch's
 * key hashes with it. On a shared (PostgreSQL) ledger another sidecar may have committed some of the
 * keys first: the commit then writes nothing, those keys become committed here, and the caller counts
 * the batch again (`commit` returns `ok: false`).
 */
export function createPipelineStore(store: LedgerStore, metrics: SidecarMetrics) {
  const counterByMetric = new Map<string, CounterName>();
  for (const [k, c] of Object.entries(metrics.counters)) counterByMetric.set(c.name, k as CounterName);
  const histByMetric = new Map<string, HistogramName>();
  for (const [k, h] of Object.entries(metrics.histograms)) histByMetric.set(h.name, k as HistogramName);
  const dedup = new DedupIndex();
  const me = store.sidecarId;
  let eventSeq = 0;
  /** Batches this sidecar committed (pipeline_state 'batch_seq', written by each commit). */
  let batchSeq = 0;
  /**
   * A commit whose outcome is unknown: the ledger connection failed during it (it may have failed
   * after PostgreSQL committed). Its keys stay claimed until `resolveInDoubt` reads the ledger's
   * batch_seq and either completes it or releases them.
   */
  let inDoubt: { seq: number; keys: Buffer; finish: () => BatchEffects } | null = null;

  /** Restores this sidecar's committed totals into the registry and returns where tailing resumes. */
  async function load(): Promise<PipelineState> {
    // Exact (bigint) from the ledger; the registry holds the float Prometheus exposes anyway.
    for (const row of await store.all<{ metric: string; labels: string; total: bigint }>(
      'SELECT metric, labels, total FROM metric_counter WHERE sidecar_id = ?',
      [me],
      { bigint: true },
    )) {
      const name = counterByMetric.get(row.metric);
      if (name !== undefined)
        metrics.counters[name].restoreTotal(JSON.parse(row.labels) as string[], Number(row.total));
    }
    for (const row of await store.all<{
      metric: string;
      labels: string;
      counts: string;
      sum: number;
      count: number;
    }>('SELECT metric, labels, counts, sum, count FROM metric_histogram WHERE sidecar_id = ?', [me])) {
      const name = histByMetric.get(row.metric);
      if (name === undefined) continue;
      const state: HistogramState = {
        counts: JSON.parse(row.counts) as number[],
        sum: row.sum,
        count: row.count,
      };
      metrics.histograms[name].restoreState(JSON.parse(row.labels) as string[], state);
    }
    const labelValues = (
      await store.all<{ label: string; value: string }>(
        'SELECT label, value FROM label_value WHERE sidecar_id = ?',
        [me],
      )
    ).map((r) => [r.label, r.value] as [string, string]);
    const checkpoints = (
      await store.all<Omit<FileCheckpoint, 'key'>>(
        'SELECT dev, ino, fingerprint, path, "offset" AS "offset", kind FROM file_checkpoint WHERE sidecar_id = ?',
        [me],
      )
    ).map((r) => ({ ...r, key: `${r.dev}:${r.ino}:${r.fingerprint}` }));
    // A SQLite ledger's keys (one sidecar). A shared ledger's keys stay in PostgreSQL: the commit
    // checks them there, and learns the ones it meets.
    if (store.kind === 'sqlite')
      for (const row of await store.all<{ seen_ms: number; hashes: Buffer }>(
        'SELECT seen_ms, hashes FROM dedup_batch',
      ))
        dedup.loadCommitted(row.hashes, row.seen_ms, row.seen_ms, Number.POSITIVE_INFINITY);
    const state = new Map(
      (
        await store.all<{ name: string; value: string }>(
          'SELECT name, value FROM pipeline_state WHERE sidecar_id = ?',
          [me],
        )
      ).map((r) => [r.name, r.value]),
    );
    const last = state.get('last_record_ms');
    eventSeq = Number(state.get('event_seq') ?? 0);
    batchSeq = Number(state.get('batch_seq') ?? 0);
    return { checkpoints, labelValues, lastRecordMs: last === undefined ? 0 : Number(last), eventSeq };
  }

  /**
   * Claims a dedup key for the batch being counted: true when it is new (not committed within the
   * window before `nowMs`, not claimed earlier in the batch). Claims become committed with the batch.
   */
  function claim(key: string, nowMs: number, dedupWindowMs: number): boolean {
    return dedup.claim(key, nowMs, dedupWindowMs);
  }

  /** Forgets the claims of a batch that will not be committed (counting failed, or it is recounted). */
  function releaseClaims(): void {
    dedup.rollback(dedup.takePending());
  }

  /**
   * Commits a counted and settled batch in ONE transaction: totals (committed + the batch's
   * deltas), rollups, label values, the keys it claimed (stamped `nowMs`; keys older than
   * `dedupWindowMs` expire, one-second granularity) and the checkpoints. Only then do its keys become
   * committed and the registry show its totals. If the transaction fails, its keys are released,
   * nothing is kept, and this throws. If another sidecar committed some of its keys first (shared
   * ledger), nothing is written, those keys are now known as committed, the rest are released, and
   * this returns `ok: false`: count the batch again.
   */
  async function commit(
    fx: BatchEffects,
    checkpoints: FileCheckpoint[],
    nowMs: number,
    dedupWindowMs: number,
  ): Promise<CommitOutcome> {
    return prepareCommit(fx, checkpoints, nowMs, dedupWindowMs)();
  }

  /**
   * `commit` in two steps: this takes the batch's claims and lays out its writes now (the next batch
   * may be counted before the returned function runs; its claims are its own), the returned function
   * writes them. Run it before preparing another commit.
   */
  function prepareCommit(
    fx: BatchEffects,
    checkpoints: FileCheckpoint[],
    nowMs: number,
    dedupWindowMs: number,
  ): () => Promise<CommitOutcome> {
    const counterTotals: [CounterName, string[], number][] = [];
    const histTotals: [HistogramName, string[], HistogramState][] = [];
    const keys = dedup.takePending();
    const ops: WriteOp[] = [];
    const counterRows: (string | number | bigint)[][] = [];
    for (const [name, series] of fx.counters) {
      const c = metrics.counters[name];
      for (const s of series.values()) {
        // The registry's float; the ledger adds the exact delta.
        const total = c.total(s.values) + Number(s.delta);
        counterRows.push([me, c.name, JSON.stringify(s.values), s.delta]);
        counterTotals.push([name, s.values, total]);
      }
    }
    const histRows: (string | number)[][] = [];
    for (const [name, series] of fx.histograms) {
      const h = metrics.histograms[name];
      for (const s of series.values()) {
        const prev = h.state(s.values) ?? h.emptyState();
        const state: HistogramState = {
          counts: prev.counts.map((n, i) => n + (s.state.counts[i] ?? 0)),
          sum: prev.sum + s.state.sum,
          count: prev.count + s.state.count,
        };
        histRows.push([
          me,
          h.name,
          JSON.stringify(s.values),
          JSON.stringify(state.counts),
          state.sum,
          state.count,
        ]);
        histTotals.push([name, s.values, state]);
      }
    }
    ops.push([UPSERT_USAGE_SQL, [...fx.rollups.values()].map((r) => usageRowArgs(r.key, r.measures))]);
    ops.push([UPSERT_PRINCIPAL_SQL, fx.principalRowArgs()]);
    // Usage events: each counted record gets the next id of this sidecar's sequence, kept in the
    // ledger, so ids stay monotonic across restarts and the running totals and the sequence commit
    // together.
    fx.firstEventId = eventSeq + 1;
    const nextSeq = eventSeq + fx.deltaCount;
    ops.push([
      UPSERT_LATENCY_SQL,
      [...fx.latency.values()].map((r) => [
        r.bucketStart,
        r.provider,
        r.model,
        r.metric,
        ...LATENCY_COUNT_COLUMNS.map((_, i) => r.counts[i] ?? 0),
      ]),
    ]);
    ops.push([
      UPSERT_ERROR_SQL,
      [...fx.errorRows.values()].map((r) => [
        r.bucketStart,
        r.provider,
        r.model,
        r.service,
        r.errorType,
        r.requests,
      ]),
    ]);
    // The rows every sidecar adds into (running totals per service, feature, tenant) come last, so a
    // shared ledger holds their locks for the shortest time.
    ops.push([UPSERT_TOTAL_SQL, fx.totalRowArgs()]);
    ops.push([ADD_COUNTER_SQL, counterRows], [UPSERT_HISTOGRAM_SQL, histRows]);
    if (nextSeq !== eventSeq) ops.push([SET_STATE_SQL, [[me, 'event_seq', String(nextSeq)]]]);
    ops.push([INSERT_LABEL_SQL, fx.admittedLabels.map(([label, value]) => [me, label, value])]);
    ops.push([CLEAR_CHECKPOINTS_SQL, [[me]]]);
    ops.push([
      INSERT_CHECKPOINT_SQL,
      checkpoints.map((cp) => [me, cp.dev, cp.ino, cp.fingerprint, cp.path, cp.offset, cp.kind]),
    ]);
    if (fx.lastRecordMs > 0) ops.push([SET_STATE_SQL, [[me, 'last_record_ms', String(fx.lastRecordMs)]]]);
    const seq = batchSeq + 1;
    ops.push([SET_STATE_SQL, [[me, 'batch_seq', String(seq)]]]);
    const finish = (): BatchEffects => {
      dedup.commit(keys, nowMs);
      batchSeq = seq;
      eventSeq = nextSeq;
      const firstKept = fx.firstEventId + fx.droppedDeltas;
      for (let i = 0; i < fx.deltas.length; i++) (fx.deltas[i] as { id: number }).id = firstKept + i;
      // Only now, after the commit, does the registry show the batch.
      for (const [name, values, total] of counterTotals) metrics.counters[name].setTotal(values, total);
      for (const [name, values, state] of histTotals) metrics.histograms[name].setState(values, state);
      return fx;
    };
    return async () => {
      let result: BatchResult;
      try {
        result = await store.commitBatch(ops, {
          hashes: keys,
          nowMs,
          expireBeforeMs: Math.floor((nowMs - dedupWindowMs) / 1000) * 1000,
        });
      } catch (err) {
        if (store.kind === 'postgres' && isTransientLedgerError(err)) inDoubt = { seq, keys, finish };
        else dedup.rollback(keys);
        throw err;
      }
      if (!result.ok) {
        dedup.rollback(keys);
        dedup.loadCommitted(result.taken, nowMs, nowMs, dedupWindowMs);
        return { ok: false, taken: result.taken.length / HASH_BYTES };
      }
      return { ok: true, fx: finish() };
    };
  }

  /**
   * Settles a commit whose outcome was unknown (see `inDoubt`) by reading this sidecar's batch_seq,
   * written in the same transaction: the batch if it did commit (the registry then shows it), null
   * if it did not (its keys are released: count it again). Throws while the ledger is unreachable.
   * Null, too, when no commit is in doubt.
   */
  async function resolveInDoubt(): Promise<BatchEffects | null> {
    const d = inDoubt;
    if (d === null) return null;
    const committed = await store.value<string>(
      "SELECT value FROM pipeline_state WHERE sidecar_id = ? AND name = 'batch_seq'",
      [me],
    );
    inDoubt = null;
    if (Number(committed ?? 0) === d.seq) return d.finish();
    dedup.rollback(d.keys);
    return null;
  }

  /**
   * Counts a batch with `count(claimKey)` (claims at `nowMs`) and commits it: `claim` + `commit`,
   * counting again while another sidecar committed some of its records first.
   */
  async function commitBatch(
    count: (claimKey: (key: string) => boolean) => BatchEffects,
    checkpoints: FileCheckpoint[],
    nowMs: number,
    dedupWindowMs: number,
  ): Promise<BatchEffects> {
    for (;;) {
      let fx: BatchEffects;
      try {
        fx = count((key) => claim(key, nowMs, dedupWindowMs));
      } catch (err) {
        releaseClaims();
        throw err;
      }
      const outcome = await commit(fx, checkpoints, nowMs, dedupWindowMs);
      if (outcome.ok) return outcome.fx;
    }
  }

  /** Id of the last committed usage event. */
  const lastEventId = (): number => eventSeq;

  return { load, claim, releaseClaims, commit, prepareCommit, resolveInDoubt, commitBatch, lastEventId };
}

export type PipelineStore = ReturnType<typeof createPipelineStore>;
