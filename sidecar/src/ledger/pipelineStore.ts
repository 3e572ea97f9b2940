import type { CounterName, HistogramName, SidecarMetrics } from '../metrics.js';
import type { BatchEffects } from '../pipeline/batchEffects.js';
import type { HistogramState } from '../pipeline/committedMetrics.js';
import { DedupIndex } from '../pipeline/dedupIndex.js';
import type { FileCheckpoint } from '../tail/types.js';
import { runWrites, type WriteOp } from './ledgerWriter.js';
import { LATENCY_COUNT_COLUMNS } from './migrations.js';
import type { LedgerDb } from './openLedger.js';
import { UPSERT_PRINCIPAL_SQL, UPSERT_USAGE_SQL, usageRowArgs } from './rollups.js';
import { readEventSeq, UPSERT_TOTAL_SQL } from './usageTotals.js';

export interface PipelineState {
  checkpoints: FileCheckpoint[];
  labelValues: [string, string][];
  lastRecordMs: number;
  /** Id of the last committed usage event (0 before the first). */
  eventSeq: number;
}

/** Adds a batch's delta in SQLite (exact int64), so a total past 2^53 (nano-USD) never rounds. */
const ADD_COUNTER_SQL =
  'INSERT INTO metric_counter (metric, labels, total) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET total = total + excluded.total';
const UPSERT_HISTOGRAM_SQL = `INSERT INTO metric_histogram (metric, labels, counts, sum, count) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT DO UPDATE SET counts = excluded.counts, sum = excluded.sum, count = excluded.count`;
const INSERT_LABEL_SQL = 'INSERT OR IGNORE INTO label_value (label, value) VALUES (?, ?)';
const INSERT_KEYS_SQL = 'INSERT INTO dedup_batch (seen_ms, hashes) VALUES (?, ?)';
const EXPIRE_KEYS_SQL = 'DELETE FROM dedup_batch WHERE seen_ms < ?';
const CLEAR_CHECKPOINTS_SQL = 'DELETE FROM file_checkpoint';
const INSERT_CHECKPOINT_SQL =
  'INSERT INTO file_checkpoint (dev, ino, fingerprint, path, offset, kind) VALUES (?, ?, ?, ?, ?, ?)';
const UPSERT_LATENCY_SQL = `INSERT INTO latency_rollup (bucket_start, bucket_seconds, provider, model, metric, ${LATENCY_COUNT_COLUMNS.join(', ')})
     VALUES (?, 3600, ?, ?, ?, ${LATENCY_COUNT_COLUMNS.map(() => '?').join(', ')})
     ON CONFLICT DO UPDATE SET ${LATENCY_COUNT_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`;
const UPSERT_ERROR_SQL = `INSERT INTO error_rollup (bucket_start, bucket_seconds, provider, model, service, error_type, requests)
     VALUES (?, 3600, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET requests = requests + excluded.requests`;
const SET_STATE_SQL =
  'INSERT INTO pipeline_state (name, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value';

/**
 * The counting pipeline's reads and its one write: a batch's counter totals, histogram buckets,
 * rollups, dedup keys, admitted label values and file checkpoints commit in ONE transaction, and only
 * then does the registry show them. A crash at any instant leaves the ledger at a batch boundary.
 *
 * Commit batches one after another: a batch's totals build on the committed ones.
 *
 * Dedup keys live in memory (DedupIndex, loaded from `dedup_batch` by `load`): `claim` consults them
 * while a batch is counted, outside any transaction, and each commit appends the batch's key hashes
 * as one row.
 */
export function createPipelineStore(db: LedgerDb, metrics: SidecarMetrics) {
  const counterByMetric = new Map<string, CounterName>();
  for (const [k, c] of Object.entries(metrics.counters)) counterByMetric.set(c.name, k as CounterName);
  const histByMetric = new Map<string, HistogramName>();
  for (const [k, h] of Object.entries(metrics.histograms)) histByMetric.set(h.name, k as HistogramName);
  const dedup = new DedupIndex();
  let eventSeq = 0;

  /** Restores the committed totals into the registry and returns where tailing resumes. */
  function load(): PipelineState {
    // Exact (bigint) from the ledger; the registry holds the float Prometheus exposes anyway.
    for (const row of db
      .prepare('SELECT metric, labels, total FROM metric_counter')
      .safeIntegers(true)
      .all() as {
      metric: string;
      labels: string;
      total: bigint;
    }[]) {
      const name = counterByMetric.get(row.metric);
      if (name !== undefined)
        metrics.counters[name].restoreTotal(JSON.parse(row.labels) as string[], Number(row.total));
    }
    for (const row of db.prepare('SELECT metric, labels, counts, sum, count FROM metric_histogram').all() as {
      metric: string;
      labels: string;
      counts: string;
      sum: number;
      count: number;
    }[]) {
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
      db.prepare('SELECT label, value FROM label_value').all() as { label: string; value: string }[]
    ).map((r) => [r.label, r.value] as [string, string]);
    const checkpoints = (
      db.prepare('SELECT dev, ino, fingerprint, path, offset, kind FROM file_checkpoint').all() as Omit<
        FileCheckpoint,
        'key'
      >[]
    ).map((r) => ({ ...r, key: `${r.dev}:${r.ino}:${r.fingerprint}` }));
    for (const row of db.prepare('SELECT seen_ms, hashes FROM dedup_batch').iterate() as Iterable<{
      seen_ms: number;
      hashes: Buffer;
    }>)
      dedup.loadCommitted(row.hashes, row.seen_ms, row.seen_ms, Number.POSITIVE_INFINITY);
    const last = db.prepare("SELECT value FROM pipeline_state WHERE name = 'last_record_ms'").pluck().get() as
      | string
      | undefined;
    eventSeq = readEventSeq(db);
    return { checkpoints, labelValues, lastRecordMs: last === undefined ? 0 : Number(last), eventSeq };
  }

  /**
   * Claims a dedup key for the batch being counted: true when it is new (not committed within the
   * window before `nowMs`, not claimed earlier in the batch). Claims become committed with the batch.
   */
  function claim(key: string, nowMs: number, dedupWindowMs: number): boolean {
    return dedup.claim(key, nowMs, dedupWindowMs);
  }

  /**
   * Commits a counted and settled batch in ONE transaction on this connection: totals (committed +
   * the batch's deltas), rollups, label values, the keys it claimed (stamped `nowMs`; keys older than
   * `dedupWindowMs` expire, one-second granularity) and the checkpoints. Only then do its keys become
   * committed and the registry show its totals; if the transaction fails, its keys are released,
   * nothing is kept, and this throws.
   */
  function commit(
    fx: BatchEffects,
    checkpoints: FileCheckpoint[],
    nowMs: number,
    dedupWindowMs: number,
  ): BatchEffects {
    const counterTotals: [CounterName, string[], number][] = [];
    const histTotals: [HistogramName, string[], HistogramState][] = [];
    const keys = dedup.takePending();
    const ops: WriteOp[] = [[EXPIRE_KEYS_SQL, [[Math.floor((nowMs - dedupWindowMs) / 1000) * 1000]]]];
    if (keys.length > 0) ops.push([INSERT_KEYS_SQL, [[nowMs, keys]]]);
    const counterRows: (string | number | bigint)[][] = [];
    for (const [name, series] of fx.counters) {
      const c = metrics.counters[name];
      for (const s of series.values()) {
        // The registry's float; the ledger adds the exact delta.
        const total = c.total(s.values) + Number(s.delta);
        counterRows.push([c.name, JSON.stringify(s.values), s.delta]);
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
          h.name,
          JSON.stringify(s.values),
          JSON.stringify(state.counts),
          state.sum,
          state.count,
        ]);
        histTotals.push([name, s.values, state]);
      }
    }
    ops.push([ADD_COUNTER_SQL, counterRows], [UPSERT_HISTOGRAM_SQL, histRows]);
    ops.push([UPSERT_USAGE_SQL, [...fx.rollups.values()].map((r) => usageRowArgs(r.key, r.measures))]);
    ops.push([UPSERT_PRINCIPAL_SQL, (run) => fx.forEachPrincipalRow(run)]);
    // Usage events: each counted record gets the next id of a sequence kept in the ledger, so ids
    // stay monotonic across restarts and the running totals and the sequence commit together.
    fx.firstEventId = eventSeq + 1;
    const nextSeq = eventSeq + fx.deltaCount;
    ops.push([UPSERT_TOTAL_SQL, (run) => fx.forEachTotalRow(run)]);
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
    if (nextSeq !== eventSeq) ops.push([SET_STATE_SQL, [['event_seq', String(nextSeq)]]]);
    ops.push([INSERT_LABEL_SQL, fx.admittedLabels.map(([label, value]) => [label, value])]);
    ops.push([CLEAR_CHECKPOINTS_SQL, [[]]]);
    ops.push([
      INSERT_CHECKPOINT_SQL,
      checkpoints.map((cp) => [cp.dev, cp.ino, cp.fingerprint, cp.path, cp.offset, cp.kind]),
    ]);
    if (fx.lastRecordMs > 0) ops.push([SET_STATE_SQL, [['last_record_ms', String(fx.lastRecordMs)]]]);
    try {
      runWrites(db, ops);
    } catch (err) {
      dedup.rollback(keys);
      throw err;
    }
    dedup.commit(keys, nowMs);
    eventSeq = nextSeq;
    const firstKept = fx.firstEventId + fx.droppedDeltas;
    for (let i = 0; i < fx.deltas.length; i++) (fx.deltas[i] as { id: number }).id = firstKept + i;
    // Only now, after the commit, does the registry show the batch.
    for (const [name, values, total] of counterTotals) metrics.counters[name].setTotal(values, total);
    for (const [name, values, state] of histTotals) metrics.histograms[name].setState(values, state);
    return fx;
  }

  /** Counts a batch with `count(claimKey)` (claims at `nowMs`) and commits it: `claim` + `commit`. */
  function commitBatch(
    count: (claimKey: (key: string) => boolean) => BatchEffects,
    checkpoints: FileCheckpoint[],
    nowMs: number,
    dedupWindowMs: number,
  ): BatchEffects {
    let fx: BatchEffects;
    try {
      fx = count((key) => claim(key, nowMs, dedupWindowMs));
    } catch (err) {
      dedup.rollback(dedup.takePending());
      throw err;
    }
    return commit(fx, checkpoints, nowMs, dedupWindowMs);
  }

  /** Id of the last committed usage event. */
  const lastEventId = (): number => eventSeq;

  return { load, claim, commit, commitBatch, lastEventId };
}

export type PipelineStore = ReturnType<typeof createPipelineStore>;
