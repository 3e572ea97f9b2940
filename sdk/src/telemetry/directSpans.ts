import {
  type AttributeValue,
  type Context,
  type HrTime,
  isSpanContextValid,
  type Link,
  type SpanContext,
  SpanKind,
  type SpanStatus,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { hrTimeDuration, isTracingSuppressed, millisToHrTime } from '@opentelemetry/core';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { BoundedBatchQueue } from './boundedBatchQueue.js';
import { isSdkScope, noneSet } from './ownPipeline.js';
import { randomHexId } from './randomIds.js';

/**
 * Variables that change how spendline's own tracer provider makes spans (NodeSDK and
 * `BasicTracerProvider` read them from the process's environment): a sampler other than the default
 * parent-based always-on, span attribute limits, the SDK's own span metrics, a configuration file.
 * With any of them set, calls' spans go through the tracer.
 */
const SPAN_SHAPING_VARIABLES = [
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_NODE_EXPERIMENTAL_SDK_METRICS',
  'OTEL_CONFIG_FILE',
  'OTEL_EXPERIMENTAL_CONFIG_FILE',
] as const;

/** Whether calls' spans may skip the tracer: only when no variable (configured or the process's) shapes spans. */
export function spansMayGoDirect(...envs: Record<string, string | undefined>[]): boolean {
  return noneSet(SPAN_SHAPING_VARIABLES, envs);
}

type SpanShape = Pick<ReadableSpan, 'resource' | 'instrumentationScope'>;

const NO_EVENTS: TimedEvent[] = [];
const NO_LINKS: Link[] = [];
/** Until the span ends (it is read, if at all, only after {@link DirectSpan.end} sets the call's own). */
const NO_ATTRIBUTES: Record<string, AttributeValue> = Object.freeze({});
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const ERROR: SpanStatus = Object.freeze({ code: SpanStatusCode.ERROR });

/**
 * A call's CLIENT span made without the tracer, as the tracer's span would be exported: its span
 * context is made when it starts (the sampling decision is the default sampler's, parent-based
 * always-on), its times turned into their exported form when the exporter reads them. Never handed
 * to other code: the context a call runs in holds the SDK's marked non-recording span (callContext.ts),
 * and {@link emitUsage} is its only user.
 */
export class DirectSpan implements ReadableSpan {
  readonly kind = SpanKind.CLIENT;
  readonly events = NO_EVENTS;
  readonly links = NO_LINKS;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly parentSpanContext: SpanContext | undefined;
  attributes: Record<string, AttributeValue> = NO_ATTRIBUTES;
  status: SpanStatus = UNSET;
  ended = false;
  readonly #owner: DirectSpans;
  readonly #shape: SpanShape;
  readonly #spanContext: SpanContext;
  readonly #startMs: number;
  #endMs = 0;

  constructor(
    owner: DirectSpans,
    shape: SpanShape,
    readonly name: string,
    parent: Context,
    startMs: number,
  ) {
    this.#owner = owner;
    this.#shape = shape;
    this.#startMs = startMs;
    const p = trace.getSpanContext(parent);
    const valid = p !== undefined && isSpanContextValid(p);
    this.parentSpanContext = valid ? p : undefined;
    const sampled = !valid || (p.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
    // From an empty literal, as the call's attributes are (emitUsage.ts): kept until the export, a
    // literal with properties would be pretenured.
    const sc = {} as SpanContext;
    sc.traceId = valid ? p.traceId : randomHexId(16);
    sc.spanId = randomHexId(8);
    sc.traceFlags = sampled ? TraceFlags.SAMPLED : TraceFlags.NONE;
    sc.traceState = valid ? p.traceState : undefined;
    this.#spanContext = sc;
  }

  spanContext(): SpanContext {
    return this.#spanContext;
  }

  get resource(): ReadableSpan['resource'] {
    return this.#shape.resource;
  }

  get instrumentationScope(): ReadableSpan['instrumentationScope'] {
    return this.#shape.instrumentationScope;
  }

  get startTime(): HrTime {
    return millisToHrTime(this.#startMs);
  }

  /** As the tracer ends a span: an end before the start is the start. */
  get endTime(): HrTime {
    return millisToHrTime(Math.max(this.#endMs, this.#startMs));
  }

  get duration(): HrTime {
    return hrTimeDuration(this.startTime, this.endTime);
  }

  /** Whether the tracer would have recorded (and exported) the span. */
  get sampled(): boolean {
    return (this.#spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
  }

  /**
   * Ends the span with the call's attributes (which include the three it was named by) and status, and
   * queues it for export when the tracer would have recorded it. Once; later calls are ignored.
   */
  end(attributes: Record<string, AttributeValue>, error: boolean, endMs: number): void {
    if (this.ended) return;
    this.attributes = attributes;
    if (error) this.status = ERROR;
    this.#endMs = endMs;
    this.ended = true;
    if (this.sampled) this.#owner.queued(this);
  }
}

/**
 * Calls' spans handed straight to spendline's own span export queue, as spans the exporter reads.
 *
 * Starting, filling and ending a span through the tracer (`Tracer.startSpan` with its sampler and
 * attribute copies, the span's checks of each attribute, the processors) was about half of a manual
 * record's time in the benchmark (`recordLLMUsage` 2.6 µs, 1.3 µs without), although the span's
 * attributes are built valid by the SDK (docs/performance.md, session 16). So where spendline's
 * tracer provider is its own (no service setup), spendline's queue is its only span processor, no
 * variable shapes its spans ({@link spansMayGoDirect}), and a span of the SDK's scope has gone
 * through it (whose resource and scope the later spans share: the exporter groups spans by those
 * objects), the SDK makes the call's span itself ({@link DirectSpan}). Anything else (a service's
 * tracer provider, a console exporter, a sampler or limits, the first span, tracing suppressed by the
 * caller, a manual record with extra attributes) goes through the tracer. The exported OTLP is the
 * same either way (`directSpans.test.ts` compares the two).
 */
export class DirectSpans {
  #shape: SpanShape | undefined;
  /** Spans queued directly (tests check that this path is the one taken). */
  emitted = 0;

  constructor(private readonly queue: BoundedBatchQueue<ReadableSpan>) {}

  /** Learns the resource and scope from a span of the SDK's own tracer ({@link isSdkScope}). */
  learn(span: ReadableSpan): void {
    const scope = span.instrumentationScope;
    if (this.#shape === undefined && isSdkScope(scope))
      this.#shape = { resource: span.resource, instrumentationScope: scope };
  }

  /**
   * Starts a call's span, or undefined (start it with the tracer): before a span has gone through the
   * tracer, with tracing suppressed, or with a start time the tracer would read as a
   * `performance.now()` offset.
   */
  start(name: string, parent: Context, startMs: number): DirectSpan | undefined {
    const shape = this.#shape;
    if (shape === undefined || isTracingSuppressed(parent) || !(startMs > performance.now()))
      return undefined;
    return new DirectSpan(this, shape, name, parent, startMs);
  }

  /** Queues an ended, sampled span ({@link DirectSpan.end}). */
  queued(span: DirectSpan): void {
    this.queue.add(span);
    this.emitted++;
  }
}
