/**
 * Every metric the sidecar exposes, in one place (the reference is docs/metrics.md). Usage counters
 * and histograms are CommittedCounter/CommittedHistogram: they show only what the ledger committed
 * and are restored from it at start, so they never reset. `user.id` is never a label.
 */
import { Gauge, Registry } from 'prom-client';
import {
  CommittedCounter,
  CommittedHistogram,
  type FirstIncrementHold,
  NO_HOLD,
} from './pipeline/committedMetrics.js';

/** Semantic-convention bucket boundaries for gen_ai client operation duration (seconds). */
export const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Semantic-convention buckets for time to first token (seconds). */
export const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

export const NANO_PER_USD = 1_000_000_000;

/**
 * `hold`: how long a new counter or histogram series is exposed at 0 before its first increment
 * (--first-increment-hold); the server calls `hold.beginScrape()` on every /metrics scrape.
 */
export function createSidecarMetrics(
  registry: Registry = new Registry(),
  hold: FirstIncrementHold = NO_HOLD,
) {
  const counters = {
    requests: new CommittedCounter('llm_requests_total', 'Model calls counted (each usage record once).', [
      'provider',
      'model',
      'service',
      'operation',
      'status',
    ]),
    tokens: new CommittedCounter(
      'llm_tokens_total',
      'Tokens by disjoint type (input = uncached input, output = non-reasoning output); the types sum to the total.',
      ['provider', 'model', 'service', 'token_type', 'usage_type'],
    ),
    cost: new CommittedCounter(
      'llm_cost_usd_total',
      'Cost in USD of priced calls (catalog or --prices override; the emitter price only when the catalog has none).',
      ['provider', 'model', 'service', 'feature', 'usage_type'],
      NANO_PER_USD,
    ),
    unpriced: new CommittedCounter(
      'llm_unpriced_requests_total',
      'Calls with no known price (never counted as $0 in llm_cost_usd_total).',
      ['provider', 'model', 'service'],
    ),
    unknownUsage: new CommittedCounter(
      'llm_unknown_usage_requests_total',
      'Calls whose emitter reported no usage (failed calls, streams without usage): counted in llm_requests_total, their tokens and cost unknown (never $0).',
      ['provider', 'model', 'service', 'status'],
    ),
    ocrPages: new CommittedCounter('llm_ocr_pages_total', 'Pages processed by OCR calls.', [
      'provider',
      'model',
      'service',
    ]),
    embeddingInputs: new CommittedCounter(
      'llm_embedding_inputs_total',
      'Inputs embedded by embedding calls.',
      ['provider', 'model', 'service'],
    ),
    records: new CommittedCounter(
      'spendline_records_total',
      'Records read, by source (log, span, jsonl; otlp/jsonl for lines not decoded to a record) and result (counted, duplicate, rejected, ignored).',
      ['source', 'result'],
    ),
    rejected: new CommittedCounter(
      'spendline_rejected_records_total',
      'Rejected records or lines, by reason.',
      ['reason'],
    ),
    lostBytes: new CommittedCounter(
      'spendline_lost_bytes_total',
      'Bytes of a watched file that can never be read because the file was deleted (or moved away from every watched name) or truncated before the sidecar read them, by reason (deleted, truncated).',
      ['reason'],
    ),
    labelOverflow: new CommittedCounter(
      'spendline_label_overflow_total',
      'Records whose label value was folded into "other" because the label reached its distinct-value cap.',
      ['label'],
    ),
    labelTruncated: new CommittedCounter(
      'spendline_label_truncated_total',
      'Records with a value over 128 characters, cut to 115 characters + "…~" + 12 hex digits of its SHA-256 (in /metrics and the ledger alike), by dimension (provider, model, service, operation, feature, tenant, user, task, session, agent, execution_path, source).',
      ['label'],
    ),
  };
  const histograms = {
    duration: new CommittedHistogram(
      'llm_request_duration_seconds',
      'Duration of model calls in seconds.',
      ['provider', 'model', 'service', 'operation'],
      DURATION_BUCKETS,
    ),
    ttft: new CommittedHistogram(
      'llm_time_to_first_token_seconds',
      'Time to first token of streamed calls in seconds.',
      ['provider', 'model', 'service'],
      TTFT_BUCKETS,
    ),
  };
  for (const c of Object.values(counters)) c.register(registry, hold);
  for (const h of Object.values(histograms)) h.register(registry, hold);

  const gauges = {
    unreadBytes: new Gauge({
      name: 'spendline_unread_bytes',
      help: 'Bytes of a tracked file not yet consumed (committed); 0 when caught up.',
      labelNames: ['file'],
      registers: [registry],
    }),
    unreadableFiles: new Gauge({
      name: 'spendline_unreadable_file_bytes',
      help: 'Size of a matched file the sidecar cannot read, by file and reason (proto, zstd, gzip: a binary collector export; utf16: UTF-16 text; permission_denied, too_many_open_files, io_error); its records are not counted.',
      labelNames: ['file', 'reason'],
      registers: [registry],
    }),
    lastRecordTimestamp: new Gauge({
      name: 'spendline_last_record_timestamp_seconds',
      help: 'Own timestamp (Unix seconds) of the newest counted record.',
      registers: [registry],
    }),
    ready: new Gauge({
      name: 'spendline_ready',
      help: '1 once the backlog present at start has been read and committed.',
      registers: [registry],
    }),
    lastCommitSeconds: new Gauge({
      name: 'spendline_batch_commit_seconds',
      help: 'Duration of the last batch (decode, dedup, price, ledger commit) in seconds.',
      registers: [registry],
    }),
    batches: new Gauge({
      name: 'spendline_batches_committed',
      help: 'Batches committed to the ledger since this process started.',
      registers: [registry],
    }),
    ledgerUp: new Gauge({
      name: 'spendline_ledger_up',
      help: '1 while batches commit; 0 while the ledger (PostgreSQL) cannot be reached and the sidecar retries, reading nothing further.',
      registers: [registry],
    }),
    recounts: new Gauge({
      name: 'spendline_batches_recounted',
      help: 'Batches counted again since this process started because another sidecar committed some of their records first (shared ledger).',
      registers: [registry],
    }),
  };
  return { registry, hold, counters, histograms, gauges };
}

export type SidecarMetrics = ReturnType<typeof createSidecarMetrics>;
export type CounterName = keyof SidecarMetrics['counters'];
export type HistogramName = keyof SidecarMetrics['histograms'];
