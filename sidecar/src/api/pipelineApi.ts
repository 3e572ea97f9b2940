import type { Router } from 'express';
import type { SidecarMetrics } from '../metrics.js';
import { readQuery } from './usageParams.js';

/** The figures the status page's pipeline panel shows (`GET /api/pipeline`). */
export interface PipelineFigures {
  ready: boolean;
  /** Records by result, over every source (log, span, jsonl, …): committed totals. */
  records: { counted: number; duplicate: number; rejected: number; ignored: number };
  /** Rejected records by reason (only reasons seen). */
  rejected_by_reason: Record<string, number>;
  unread_bytes: number;
  /** Matched files that cannot be read (a binary export, no permission, an I/O error): not counted. */
  unreadable_files: { file: string; reason: string; bytes: number }[];
  /** Bytes deleted or truncated before they were read (committed totals), by reason. */
  lost_bytes: Record<string, number>;
  /** The newest counted record's own time, ISO 8601; null before the first. */
  last_record_at: string | null;
}

/**
 * The pipeline's committed figures, as the ledger has them. Unlike `/metrics`, no series is held at 0
 * for Prometheus' sake (the first-increment hold, docs/metrics.md): a person reading the status page
 * right after a first call sees it counted, matching the usage figures beside it.
 */
export async function pipelineFigures(metrics: SidecarMetrics, ready: boolean): Promise<PipelineFigures> {
  const records = { counted: 0, duplicate: 0, rejected: 0, ignored: 0 };
  for (const s of metrics.counters.records.series.values()) {
    const result = s.values[1];
    if (result === 'counted' || result === 'duplicate' || result === 'rejected' || result === 'ignored')
      records[result] += s.total;
  }
  const rejectedByReason: Record<string, number> = {};
  for (const s of metrics.counters.rejected.series.values())
    if (s.total > 0) rejectedByReason[s.values[0] ?? ''] = s.total;
  let unread = 0;
  for (const v of (await metrics.gauges.unreadBytes.get()).values) unread += v.value;
  const unreadable = (await metrics.gauges.unreadableFiles.get()).values.map((v) => ({
    file: String(v.labels.file ?? ''),
    reason: String(v.labels.reason ?? ''),
    bytes: v.value,
  }));
  const lost: Record<string, number> = {};
  for (const s of metrics.counters.lostBytes.series.values())
    if (s.total > 0) lost[s.values[0] ?? ''] = s.total;
  const last = (await metrics.gauges.lastRecordTimestamp.get()).values[0]?.value ?? 0;
  return {
    ready,
    records,
    rejected_by_reason: rejectedByReason,
    unread_bytes: unread,
    unreadable_files: unreadable,
    lost_bytes: lost,
    last_record_at: last > 0 ? new Date(last * 1000).toISOString() : null,
  };
}

/** `GET /api/pipeline` (docs/api.md). */
export function mountPipelineApi(api: Router, metrics: SidecarMetrics, isReady: () => boolean): void {
  api.get('/pipeline', async (req, res) => {
    const q = readQuery(req, []);
    if (!q.ok) {
      res.status(400).json({ error: 'bad_request', message: q.reason });
      return;
    }
    res.json(await pipelineFigures(metrics, isReady()));
  });
}
