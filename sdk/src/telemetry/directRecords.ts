import { type AttributeValue, isSpanContextValid, type SpanContext } from '@opentelemetry/api';
import type { SeverityNumber } from '@opentelemetry/api-logs';
import { millisToHrTime, timeInputToHrTime } from '@opentelemetry/core';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { SDK_SCOPE_NAME } from '../contract.js';
import { SDK_VERSION } from '../version.js';
import type { BoundedBatchQueue } from './boundedBatchQueue.js';

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
  return envs.every((env) => RECORD_SHAPING_VARIABLES.every((v) => (env[v] ?? '').trim() === ''));
}

/**
 * Usage records handed straight to spendline's own log export queue, already in their exported form.
 *
 * `Logger.emit` builds a `LogRecordImpl` and validates each attribute again (its limits, its value
 * checks), although a usage record's attributes are built valid by the SDK and were just validated
 * once more by the call's span. That is about half of the second signal's cost on the caller's
 * thread. So where spendline's queue is the only processor of the logger provider (its own
 * pipeline, OTLP only), no record limits are set, and the logger has emitted one record through the
 * provider (whose resource and scope the later records share: the exporter groups records by those
 * objects), the SDK builds the exported fields itself and queues them. Anything else (a service's
 * own logger provider, a console exporter, limits, the first record) goes through `Logger.emit`.
 * The exported OTLP is the same either way (`directRecords.test.ts` compares the two).
 */
export class DirectRecords {
  #shape: Pick<ReadableLogRecord, 'resource' | 'instrumentationScope'> | undefined;
  /** Records queued directly (tests check that this path is the one taken). */
  emitted = 0;

  constructor(private readonly queue: BoundedBatchQueue<ReadableLogRecord>) {}

  /**
   * Learns the resource and scope from a record the SDK's logger emitted through the provider: its
   * scope is the SDK's name and version, no schema URL, no attributes (the provider's key of that
   * logger). Another copy of the SDK, of another version, logging through the same (global) provider
   * does not count.
   */
  learn(record: ReadableLogRecord): void {
    const scope = record.instrumentationScope;
    if (
      this.#shape === undefined &&
      scope.name === SDK_SCOPE_NAME &&
      scope.version === SDK_VERSION &&
      scope.schemaUrl === undefined &&
      scope.attributes === undefined
    )
      this.#shape = { resource: record.resource, instrumentationScope: scope };
  }

  /**
   * Queues one usage record; false (nothing queued) until a record has gone through the logger, or
   * when the record has more attributes than a log record may carry.
   */
  emit(
    eventName: string,
    timestampMs: number,
    severityNumber: SeverityNumber,
    attributes: Record<string, AttributeValue>,
    attributeCount: number,
    spanContext: SpanContext,
  ): boolean {
    const shape = this.#shape;
    if (shape === undefined || attributeCount > DEFAULT_ATTRIBUTE_COUNT_LIMIT) return false;
    const record: ReadableLogRecord = {
      // As the logger reads it: a number below half of performance.timeOrigin is a performance.now() offset.
      hrTime: timeInputToHrTime(timestampMs),
      hrTimeObserved: millisToHrTime(Date.now()),
      spanContext: isSpanContextValid(spanContext) ? spanContext : undefined,
      severityNumber,
      severityText: undefined,
      body: undefined,
      eventName,
      resource: shape.resource,
      instrumentationScope: shape.instrumentationScope,
      attributes,
      droppedAttributesCount: 0,
    };
    this.queue.add(record);
    this.emitted++;
    return true;
  }
}
