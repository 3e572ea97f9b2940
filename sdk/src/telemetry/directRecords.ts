import { type AttributeValue, type HrTime, isSpanContextValid, type SpanContext } from '@opentelemetry/api';
import type { SeverityNumber } from '@opentelemetry/api-logs';
import { millisToHrTime, timeInputToHrTime } from '@opentelemetry/core';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { USAGE_EVENT_NAME } from '../contract.js';
import type { BoundedBatchQueue } from './boundedBatchQueue.js';
import { isSdkScope, noneSet } from './ownPipeline.js';

/** OpenTelemetry's default log record attribute count limit (no length limit by default). */
const DEFAULT_ATTRIBUTE_COUNT_LIMIT = 128;

/** OpenTelemetry's log record limit variables, each limit's own before the general one (as NodeSDK reads them). */
export const LOG_RECORD_LIMIT_VARIABLES = {
  attributeCountLimit: ['OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'],
  attributeValueLengthLimit: [
    'OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  ],
} as const;

/** Variables that change how a logger provider builds records: with any of them set, records go through it. */
const RECORD_SHAPING_VARIABLES = [
  ...LOG_RECORD_LIMIT_VARIABLES.attributeCountLimit,
  ...LOG_RECORD_LIMIT_VARIABLES.attributeValueLengthLimit,
  // The SDK's own metrics count each record a logger emits.
  'OTEL_NODE_EXPERIMENTAL_SDK_METRICS',
] as const;

/**
 * Whether usage records may skip the logger: only when no variable (in the configured environment or
 * the process's, which NodeSDK reads) sets log record limits or the SDK's own metrics.
 */
export function recordsMayGoDirect(...envs: Record<string, string | undefined>[]): boolean {
  return noneSet(RECORD_SHAPING_VARIABLES, envs);
}

type RecordShape = Pick<ReadableLogRecord, 'resource' | 'instrumentationScope'>;

/**
 * A usage record as the log exporters read it, one small object until it is exported: its times and
 * span context are turned into their exported form when the exporter reads them (once per export),
 * not on the caller's thread. Records wait in the queue until the next export; the plain record this
 * replaces (an object of eleven fields and two time arrays) added about 4–9 µs to each call's latency
 * in the SDK benchmark when queued, and almost nothing when built and dropped. Why keeping it cost that
 * much is not known: keeping the span or the attribute object longer made no difference
 * (docs/performance.md, session 14).
 */
class QueuedUsageRecord implements ReadableLogRecord {
  readonly severityText = undefined;
  readonly body = undefined;
  readonly eventName = USAGE_EVENT_NAME;
  readonly droppedAttributesCount = 0;
  readonly severityNumber: SeverityNumber;
  readonly attributes: Record<string, AttributeValue>;
  readonly #shape: RecordShape;
  readonly #timestampMs: number;
  readonly #observedMs: number;
  readonly #spanContext: SpanContext;
  /** null until first read. */
  #validSpanContext: SpanContext | undefined | null = null;

  constructor(
    shape: RecordShape,
    timestampMs: number,
    observedMs: number,
    severityNumber: SeverityNumber,
    attributes: Record<string, AttributeValue>,
    spanContext: SpanContext,
  ) {
    this.#shape = shape;
    this.#timestampMs = timestampMs;
    this.#observedMs = observedMs;
    this.severityNumber = severityNumber;
    this.attributes = attributes;
    this.#spanContext = spanContext;
  }

  get resource(): ReadableLogRecord['resource'] {
    return this.#shape.resource;
  }

  get instrumentationScope(): ReadableLogRecord['instrumentationScope'] {
    return this.#shape.instrumentationScope;
  }

  /** As the logger reads a number: one below half of performance.timeOrigin is a performance.now() offset. */
  get hrTime(): HrTime {
    return timeInputToHrTime(this.#timestampMs);
  }

  get hrTimeObserved(): HrTime {
    return millisToHrTime(this.#observedMs);
  }

  /** The span context when valid (as the logger keeps it), else undefined. */
  get spanContext(): SpanContext | undefined {
    if (this.#validSpanContext === null)
      this.#validSpanContext = isSpanContextValid(this.#spanContext) ? this.#spanContext : undefined;
    return this.#validSpanContext;
  }
}

/**
 * Usage records handed straight to spendline's own log export queue, as records the exporter reads.
 *
 * `Logger.emit` builds a `LogRecordImpl` and validates each attribute again (its limits, its value
 * checks), although a usage record's attributes are built valid by the SDK and were just validated
 * once more by the call's span. That is about half of the second signal's cost on the caller's
 * thread. So where spendline's queue is the only processor of the logger provider (its own
 * pipeline, OTLP only), no record limits are set, and the logger has emitted one record through the
 * provider (whose resource and scope the later records share: the exporter groups records by those
 * objects), the SDK queues its own record ({@link QueuedUsageRecord}). Anything else (a service's
 * own logger provider, a console exporter, limits, the first record) goes through `Logger.emit`.
 * The exported OTLP is the same either way (`directRecords.test.ts` compares the two).
 */
export class DirectRecords {
  #shape: RecordShape | undefined;
  /** Records queued directly (tests check that this path is the one taken). */
  emitted = 0;

  constructor(private readonly queue: BoundedBatchQueue<ReadableLogRecord>) {}

  /**
   * Learns the resource and scope from a record the SDK's own logger emitted through the provider
   * ({@link isSdkScope}: not another copy of the SDK logging through the same global provider).
   */
  learn(record: ReadableLogRecord): void {
    const scope = record.instrumentationScope;
    if (this.#shape === undefined && isSdkScope(scope))
      this.#shape = { resource: record.resource, instrumentationScope: scope };
  }

  /**
   * Queues one usage record; false (nothing queued) until a record has gone through the logger, or
   * when the record has more attributes than a log record may carry.
   */
  emit(
    timestampMs: number,
    severityNumber: SeverityNumber,
    attributes: Record<string, AttributeValue>,
    attributeCount: number,
    spanContext: SpanContext,
  ): boolean {
    const shape = this.#shape;
    if (shape === undefined || attributeCount > DEFAULT_ATTRIBUTE_COUNT_LIMIT) return false;
    const record = new QueuedUsageRecord(
      shape,
      timestampMs,
      Date.now(),
      severityNumber,
      attributes,
      spanContext,
    );
    this.queue.add(record);
    this.emitted++;
    return true;
  }
}
