import type { CounterName, HistogramName, SidecarMetrics } from '../metrics.js';
import type { BatchEffects } from '../pipeline/batchEffects.js';
import type { HistogramState } from '../pipeline/committedMetrics.js';
import type { FileCheckpoint } from '../tail/types.js';
import type { LedgerDb } from './openLedger.js';
import { createRollupWriter } from './rollups.js';

export interface PipelineState {
  checkpoints: FileCheckpoint[];
  labelValues: [string, string][];
  lastRecordMs: number;
}

/**
 * The counting pipeline's reads and its one write: `commitBatch` commits counter totals, histogram
 * buckets, rollups, dedup keys, admitted label values and file checkpoints in ONE transaction, and only
 * then updates the registry. A crash at any instant leaves the ledger at a batch boundary.
 */
export function createPipelineStore(db: LedgerDb, metrics: SidecarMetrics) {
  const rollups = createRollupWriter(db);
  const counterByMetric = new Map<string, CounterName>();
  for (const [k, c] of Object.entries(metrics.counters)) counterByMetric.set(c.name, k as CounterName);
  const histByMetric = new Map<string, HistogramName>();
  for (const [k, h] of Object.entries(metrics.histograms)) histByMetric.set(h.name, k as HistogramName);

  const upsertCounter = db.prepare(
    'INSERT INTO metric_counter (metric, labels, total) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET total = excluded.total',
  );
  const upsertHist = db.prepare(
    `INSERT INTO metric_histogram (metric, labels, counts, sum, count) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT DO UPDATE SET counts = excluded.counts, sum = excluded.sum, count = excluded.count`,
  );
  const insertLabel = db.prepare('INSERT OR IGNORE INTO label_value (label, value) VALUES (?, ?)');
  const insertKey = db.prepare('INSERT OR IGNORE INTO dedup_key (key, seen_ms) VALUES (?, ?)');
  const expireKeys = db.prepare('DELETE FROM dedup_key WHERE seen_ms < ?');
  const clearCheckpoints = db.prepare('DELETE FROM file_checkpoint');
  const insertCheckpoint = db.prepare(
    'INSERT INTO file_checkpoint (dev, ino, fingerprint, path, offset, kind) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const setState = db.prepare(
    'INSERT INTO pipeline_state (name, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
  );

  /** Restores the committed totals into the registry and returns where tailing resumes. */
  function load(): PipelineState {
    for (const row of db.prepare('SELECT metric, labels, total FROM metric_counter').all() as {
      metric: string;
      labels: string;
      total: number;
    }[]) {
      const name = counterByMetric.get(row.metric);
      if (name !== undefined) metrics.counters[name].setTotal(JSON.parse(row.labels) as string[], row.total);
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
      metrics.histograms[name].setState(JSON.parse(row.labels) as string[], state);
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
    const last = db.prepare("SELECT value FROM pipeline_state WHERE name = 'last_record_ms'").pluck().get() as
      | string
      | undefined;
    return { checkpoints, labelValues, lastRecordMs: last === undefined ? 0 : Number(last) };
  }

  /**
   * Runs one batch in ONE transaction: `count(claimKey)` decodes and counts the batch, where
   * `claimKey(key)` records a dedup key and says whether it is new (not committed before, not earlier in
   * this batch); then the batch's totals, rollups, label values and checkpoints are written. The registry
   * is updated only after the commit. `nowMs` stamps keys; keys older than `dedupWindowMs` expire.
   */
  function commitBatch(
    count: (claimKey: (key: string) => boolean) => BatchEffects,
    checkpoints: FileCheckpoint[],
    nowMs: number,
    dedupWindowMs: number,
  ): BatchEffects {
    const counterTotals: [CounterName, string[], number][] = [];
    const histTotals: [HistogramName, string[], HistogramState][] = [];
    const fx = db.transaction(() => {
      expireKeys.run(nowMs - dedupWindowMs);
      const fx = count((key) => insertKey.run(key, nowMs).changes === 1);
      for (const [name, series] of fx.counters) {
        const c = metrics.counters[name];
        for (const s of series.values()) {
          const total = c.total(s.values) + s.delta;
          upsertCounter.run(c.name, JSON.stringify(s.values), total);
          counterTotals.push([name, s.values, total]);
        }
      }
      for (const [name, series] of fx.histograms) {
        const h = metrics.histograms[name];
        for (const s of series.values()) {
          const prev = h.state(s.values) ?? h.emptyState();
          const state: HistogramState = {
            counts: prev.counts.map((n, i) => n + (s.state.counts[i] ?? 0)),
            sum: prev.sum + s.state.sum,
            count: prev.count + s.state.count,
          };
          upsertHist.run(
            h.name,
            JSON.stringify(s.values),
            JSON.stringify(state.counts),
            state.sum,
            state.count,
          );
          histTotals.push([name, s.values, state]);
        }
      }
      for (const r of fx.rollups.values()) rollups.addUsage(r.key, r.measures);
      for (const r of fx.principals.values()) rollups.addPrincipal(r.key, r.measures);
      for (const [label, value] of fx.admittedLabels) insertLabel.run(label, value);
      clearCheckpoints.run();
      for (const cp of checkpoints)
        insertCheckpoint.run(cp.dev, cp.ino, cp.fingerprint, cp.path, cp.offset, cp.kind);
      if (fx.lastRecordMs > 0) setState.run('last_record_ms', String(fx.lastRecordMs));
      return fx;
    })();
    // Only now, after the commit, does the registry show the batch.
    for (const [name, values, total] of counterTotals) metrics.counters[name].setTotal(values, total);
    for (const [name, values, state] of histTotals) metrics.histograms[name].setState(values, state);
    return fx;
  }

  return { load, commitBatch };
}

export type PipelineStore = ReturnType<typeof createPipelineStore>;
