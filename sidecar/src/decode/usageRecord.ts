import type { ServiceType, Status, TokenCounts, UsageType } from '@spendline/sdk/contract';

/** One billable call (or embedding batch, or OCR job) as the decoders hand it to the rest of the sidecar. */
export interface UsageRecord {
  /** `spendline.usage.id`, else `${traceId}:${spanId}` (lowercase hex); JSONL: id/usage_id/run_id-based or a hash of the line. */
  dedupKey: string;
  source: 'log' | 'span' | 'jsonl';
  /** The record's own time: log timeUnixNano, else observedTimeUnixNano; span endTimeUnixNano; JSONL ts. */
  timestampMs: number;
  provider: string;
  requestModel: string;
  responseModel: string;
  operation: string;
  serviceType: ServiceType;
  /** Resource `service.name` ('unknown_service' when absent), `service.version`, `deployment.environment.name`. */
  service: string;
  serviceVersion: string;
  environment: string;
  status: Status;
  errorType: string;
  usageType: UsageType;
  /** Semantic-convention sense: input includes cache, output includes reasoning. */
  tokens: TokenCounts;
  ocrPages: number;
  embeddingInputs: number;
  /** `spendline.cost.usd` or OpenLIT `gen_ai.usage.cost`, converted exactly to integer nano-USD. */
  emitterCostNanoUsd: number | null;
  durationMs: number | null;
  ttftMs: number | null;
  userId: string;
  sessionId: string;
  feature: string;
  taskId: string;
  tenantId: string;
  agentName: string;
  executionPath: string;
  conversationId: string;
  /** JSONL: the record's `source`, else its file's source name (`sourceNameOfPath`); OTLP: ''. */
  sourceName: string;
}

export type RejectReason =
  | 'bad_json'
  | 'not_otlp'
  | 'bad_type'
  | 'negative_tokens'
  | 'absurd_tokens'
  | 'fractional_tokens'
  | 'inconsistent_tokens'
  | 'missing_model'
  | 'missing_provider'
  | 'bad_timestamp'
  | 'timestamp_out_of_range'
  | 'line_too_long';

export const REJECT_REASONS: readonly RejectReason[] = [
  'bad_json',
  'not_otlp',
  'bad_type',
  'negative_tokens',
  'absurd_tokens',
  'fractional_tokens',
  'inconsistent_tokens',
  'missing_model',
  'missing_provider',
  'bad_timestamp',
  'timestamp_out_of_range',
  'line_too_long',
];

export interface Rejection {
  reason: RejectReason;
  detail: string;
}

/**
 * What one input line yielded. `ignored` counts telemetry that is not a usage record (ordinary logs,
 * agent/workflow spans, inference spans without usage); see README.md for how skipped lines are counted.
 */
export interface DecodeOutcome {
  records: UsageRecord[];
  rejected: Rejection[];
  ignored: number;
}

/** A single count above this (tokens, pages, inputs) is a bug or an attack, not a call. */
export const MAX_TOKENS_PER_RECORD = 100_000_000;

/** Latest time a JavaScript Date can hold (year 275760): anything later is a corrupt timestamp. */
export const MAX_TIMESTAMP_MS = 8.64e15;

/** Service name when the resource has none, as the OpenTelemetry SDKs default it. */
export const UNKNOWN_SERVICE = 'unknown_service';
