import {
  type AttributeValue,
  type Context,
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import {
  addContextAttributes,
  currentUsageContext,
  USAGE_CONTEXT_ATTR,
  type UsageContext,
} from '../context/usageContext.js';
import {
  ALIAS_ATTR,
  ATTR,
  CONTENT_ATTRS,
  isContentAttribute,
  type OperationName,
  RESOURCE_ATTR,
  type RequestFeatures,
  type ServiceType,
  type TokenCounts,
  USAGE_EVENT_NAME,
  type UsageType,
} from '../contract.js';
import { DirectSpan } from '../telemetry/directSpans.js';
import { randomUuid } from '../telemetry/randomIds.js';
import type { TelemetryRuntime } from '../telemetry/runtime.js';
import { capValueLength, MAX_EXTRA_VALUE_LENGTH } from '../valueLength.js';
import type { PricedUsage } from './price.js';

const NO_TOKENS: PricedUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  reasoningOutputTokens: 0,
});

const INPUT_MESSAGES_ATTR = CONTENT_ATTRS[0];
const OUTPUT_MESSAGES_ATTR = CONTENT_ATTRS[1];

/** One model call, normalised, ready to become a span plus a log record. */
export interface UsageRecord {
  operation: OperationName;
  serviceType: ServiceType;
  provider: string;
  requestModel: string;
  responseModel?: string | undefined;
  /** Absent for failed calls that consumed nothing. */
  tokens?: TokenCounts | undefined;
  ocrPages?: number | undefined;
  embeddingInputs?: number | undefined;
  usageType: UsageType;
  /** Epoch milliseconds when the call started. */
  startTimeMs: number;
  durationMs: number;
  ttftMs?: number | undefined;
  errorType?: string | undefined;
  /** Only set by callers when content capture is on. */
  inputContent?: string | undefined;
  outputContent?: string | undefined;
  /** Usage context and OpenTelemetry context captured when the call started (defaults: current). */
  usageContext?: Readonly<UsageContext> | undefined;
  parentContext?: Context | undefined;
  /** The call's span when it was started before the call was sent ({@link startUsageSpan}); else one is made. */
  span?: CallSpan | undefined;
  /** The emitter's own price (manual API); recorded instead of the SDK's, labelled `emitter`. */
  costUsdOverride?: number | undefined;
  /** The call went over a budget with `enforce: 'warn'`. */
  overBudget?: boolean | undefined;
  /** Tools / structured output / search grounding used by the request. */
  features?: RequestFeatures | undefined;
  /** Extra attributes given by the caller of the manual API (cannot override contract attributes). */
  extraAttributes?: Record<string, AttributeValue> | undefined;
}

/** Attribution names an extra attribute may set (the usage context, when given, wins): strings, bounded. */
const CONTEXT_ATTRS: ReadonlySet<string> = new Set<string>(Object.values(USAGE_CONTEXT_ATTR));

/**
 * Names a caller's extra attribute may not set: the contract's own but attribution, and every name the
 * sidecar reads usage, cost or provider from (an extra `gen_ai.usage.cache_read_input_tokens`,
 * `spendline.cost.usd`, `server.address` or `telemetry.sdk.name=openlit` would change what the call
 * counts or costs).
 */
const RESERVED_ATTRS: ReadonlySet<string> = new Set<string>(
  [...Object.values(ATTR), ...Object.values(ALIAS_ATTR), ...Object.values(RESOURCE_ATTR)].filter(
    (n) => !CONTEXT_ATTRS.has(n),
  ),
);

/** An attribute value OpenTelemetry can carry; strings bounded. Anything else (objects, NaN, functions) is dropped. */
function extraValue(v: unknown): AttributeValue | undefined {
  if (typeof v === 'string') return capValueLength(v, MAX_EXTRA_VALUE_LENGTH);
  if (typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  if (Array.isArray(v) && v.length <= 128) {
    const t = typeof v[0];
    if (t !== 'string' && t !== 'number' && t !== 'boolean') return undefined;
    if (!v.every((x) => typeof x === t && (t !== 'number' || Number.isFinite(x)))) return undefined;
    // A copy either way: the caller's array may change before the record is exported.
    return t === 'string'
      ? v.map((x: string) => capValueLength(x, MAX_EXTRA_VALUE_LENGTH))
      : (v.slice() as AttributeValue);
  }
  return undefined;
}

/**
 * A caller's extra attributes (manual API), validated: no empty or reserved name, no content attribute unless
 * capture is on, only values OpenTelemetry can carry, strings bounded.
 */
function extraAttributes(extra: unknown, captureContent: boolean): Record<string, AttributeValue> {
  const a: Record<string, AttributeValue> = {};
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) return a;
  for (const [key, raw] of Object.entries(extra)) {
    // OpenTelemetry refuses an empty name (Logger.emit and spans drop it): never sent, on any path.
    if (key === '' || RESERVED_ATTRS.has(key)) continue;
    if (!captureContent && isContentAttribute(key)) continue;
    if (CONTEXT_ATTRS.has(key)) {
      if (typeof raw === 'string' && raw !== '') a[key] = capValueLength(raw);
      continue;
    }
    const v = extraValue(raw);
    if (v !== undefined) a[key] = v;
  }
  return a;
}

/** Builds the attribute set shared by the span and the log record. */
export function usageAttributes(
  rt: TelemetryRuntime,
  r: UsageRecord,
  usageId: string,
): Record<string, AttributeValue> {
  // Built up from an empty literal, not written as `{ [k]: v, ... }`: the object is kept until the
  // export, and V8 would pretenure a literal with properties (allocate its objects in the old generation
  // once it sees them survive), which made every instrumented call slower in the benchmark; an empty
  // literal has no allocation site and stays young (docs/performance.md, session 17).
  const a: Record<string, AttributeValue> = {};
  // The three a span starts with first, in the order it starts with them (a span made directly exports
  // these attributes as they are: directSpans.ts).
  a[ATTR.operationName] = r.operation;
  a[ATTR.providerName] = r.provider;
  a[ATTR.requestModel] = r.requestModel;
  if (r.extraAttributes) Object.assign(a, extraAttributes(r.extraAttributes, rt.captureContent));
  addContextAttributes(r.usageContext ?? currentUsageContext(), a);
  if (r.responseModel) a[ATTR.responseModel] = r.responseModel;
  const t = r.tokens;
  if (t) {
    a[ATTR.inputTokens] = t.inputTokens;
    a[ATTR.outputTokens] = t.outputTokens;
    if (t.cacheReadInputTokens > 0) a[ATTR.cacheReadInputTokens] = t.cacheReadInputTokens;
    if (t.cacheCreationInputTokens > 0) a[ATTR.cacheCreationInputTokens] = t.cacheCreationInputTokens;
    if (t.reasoningOutputTokens > 0) a[ATTR.reasoningOutputTokens] = t.reasoningOutputTokens;
  }
  if (r.ocrPages !== undefined) a[ATTR.ocrPages] = r.ocrPages;
  if (r.embeddingInputs !== undefined) a[ATTR.embeddingInputs] = r.embeddingInputs;
  a[ATTR.usageId] = usageId;
  a[ATTR.usageType] = r.usageType;
  a[ATTR.serviceType] = r.serviceType;
  a[ATTR.durationMs] = r.durationMs;
  if (r.ttftMs !== undefined) a[ATTR.ttftMs] = r.ttftMs;
  if (r.errorType) a[ATTR.errorType] = r.errorType;
  const f = r.features;
  if (f) {
    if (f.tools) a[ATTR.requestTools] = true;
    if (f.structuredOutput) a[ATTR.requestStructuredOutput] = true;
    if (f.searchGrounding) a[ATTR.requestSearchGrounding] = true;
  }
  if (r.overBudget) a[ATTR.budgetExceeded] = true;
  if (r.costUsdOverride !== undefined) {
    a[ATTR.costUsd] = r.costUsdOverride;
    a[ATTR.costSource] = 'emitter';
  } else if (t || r.ocrPages !== undefined || r.embeddingInputs !== undefined) {
    // A failed call is priced too when it consumed something (e.g. a stream cut mid-way).
    let usage: PricedUsage = t ?? NO_TOKENS;
    if (r.ocrPages !== undefined || r.embeddingInputs !== undefined) {
      usage = { ...usage, ocrPages: r.ocrPages ?? 0, embeddingInputs: r.embeddingInputs ?? 0 };
    }
    const cost = rt.price(
      usage,
      r.provider,
      r.responseModel || r.requestModel,
      // Prices are date-dependent; building a Date per record costs more than it buys for calls that started just now.
      Date.now() - r.startTimeMs > 60_000 ? new Date(r.startTimeMs) : undefined,
    );
    if (cost !== undefined) {
      a[ATTR.costUsd] = cost;
      a[ATTR.costSource] = 'sdk';
    }
  }
  if (rt.captureContent) {
    if (r.inputContent !== undefined) a[INPUT_MESSAGES_ATTR] = r.inputContent;
    if (r.outputContent !== undefined) a[OUTPUT_MESSAGES_ATTR] = r.outputContent;
  }
  return a;
}

/**
 * Emits the record: a CLIENT span `{operation} {model}` covering the call, and inside it one
 * `gen_ai.client.inference.operation.details` log record with the same attributes. Synchronous,
 * never awaits export; returns the record's `spendline.usage.id`.
 */
export function emitUsage(rt: TelemetryRuntime, r: UsageRecord): string {
  // Dimension values come from callers and providers: bounded the way the sidecar bounds them.
  r.provider = capValueLength(r.provider);
  r.requestModel = capValueLength(r.requestModel);
  if (r.responseModel) r.responseModel = capValueLength(r.responseModel);
  if (r.errorType) r.errorType = capValueLength(r.errorType);
  const usageId = randomUuid();
  const attributes = usageAttributes(rt, r, usageId);
  const parent = r.parentContext ?? otelContext.active();
  const endTimeMs = r.startTimeMs + r.durationMs;
  // A caller's extra attributes may exceed what a span may carry: only the tracer drops them as it does.
  const span =
    r.span ??
    startUsageSpan(
      rt,
      r.operation,
      r.provider,
      r.requestModel,
      r.startTimeMs,
      parent,
      r.extraAttributes === undefined,
    );
  const direct = span instanceof DirectSpan;
  if (!direct) {
    span.setAttributes(attributes);
    if (r.errorType) span.setStatus({ code: SpanStatusCode.ERROR });
  }
  const severityNumber = r.errorType ? SeverityNumber.WARN : SeverityNumber.INFO;
  const records = rt.directRecords;
  if (
    records === undefined ||
    !records.emit(
      endTimeMs,
      severityNumber,
      attributes,
      // Only a caller's extra attributes can make a record larger than a log record may carry.
      r.extraAttributes === undefined ? 0 : Object.keys(attributes).length,
      span.spanContext(),
    )
  )
    rt.logger.emit({
      eventName: USAGE_EVENT_NAME,
      timestamp: endTimeMs,
      severityNumber,
      attributes,
      context: direct ? trace.setSpanContext(parent, span.spanContext()) : trace.setSpan(parent, span),
    });
  if (direct) span.end(attributes, Boolean(r.errorType), endTimeMs);
  else span.end(endTimeMs);
  rt.stats.s.recordsEmitted++;
  if (r.usageType === 'estimated') rt.stats.s.recordsEstimated++;
  return usageId;
}

/** A call's span: the tracer's, or one made directly into spendline's own span queue (directSpans.ts). */
export type CallSpan = Span | DirectSpan;

/**
 * Starts a call's CLIENT span `{operation} {model}` (ended by {@link emitUsage}): directly where the
 * runtime allows it and `direct` is not false (directSpans.ts), else with the tracer. Only the
 * attributes semconv asks to have at span creation (for samplers) go through startSpan, which copies
 * and checks its attributes twice before the span checks them again; the rest are set once on the
 * span when the call ends. The exported span carries the same attributes either way.
 */
export function startUsageSpan(
  rt: TelemetryRuntime,
  operation: OperationName,
  provider: string,
  requestModel: string,
  startTimeMs: number,
  parent: Context,
  direct = true,
): CallSpan {
  // Started before the record's values are bounded (emitUsage): bounded here the same way.
  const model = capValueLength(requestModel);
  const name = `${operation} ${model}`;
  const own = direct ? rt.directSpans?.start(name, parent, startTimeMs) : undefined;
  if (own !== undefined) return own;
  return rt.tracer.startSpan(
    name,
    {
      kind: SpanKind.CLIENT,
      startTime: startTimeMs,
      attributes: {
        [ATTR.operationName]: operation,
        [ATTR.providerName]: capValueLength(provider),
        [ATTR.requestModel]: model,
      },
    },
    parent,
  );
}
