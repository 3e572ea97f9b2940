/**
 * Inference spans that wrap another inference span of the same call: instrumentations that do not
 * suppress one another (OpenInference), or a provider SDK that traces its own calls inside another
 * instrumentation's span (`@anthropic-ai/sdk`). The inner span is the call.
 */
import { ALIAS_ATTR, ATTR, SDK_TRACESTATE } from '@spendline/sdk/contract';
import { type JsonAnyValue, normalizeId } from './anyValue.js';
import {
  canonicalOperation,
  INFERENCE_OPERATIONS,
  LLM_REQUEST_TYPES,
  vercelOperation,
} from './spanOperation.js';

/**
 * OpenInference instrumentors do not suppress one another (Phoenix's `register(auto_instrument=True)` turns
 * on every installed one): LangChain's or LlamaIndex's `LLM` span then wraps the OpenAI instrumentor's
 * `LLM` span of the same call, both with its tokens. The inner span is the call (the provider's own
 * usage, per HTTP request); an OpenInference inference span with an inference child in the same export
 * is not. (Split over two export lines, both would count: the exporter's batch normally holds both.)
 */
export const OPENINFERENCE_SCOPE_PREFIX = 'openinference.instrumentation.';
/** OpenInference's JavaScript instrumentations (`@arizeai/openinference-instrumentation-openai`, `-langchain`, …). */
export const OPENINFERENCE_JS_SCOPE_PREFIX = '@arizeai/openinference-instrumentation-';

/** Whether a scope is one of OpenInference's instrumentors (Python or JavaScript). */
export function isOpenInferenceScope(scopeName: string): boolean {
  return (
    scopeName.startsWith(OPENINFERENCE_SCOPE_PREFIX) || scopeName.startsWith(OPENINFERENCE_JS_SCOPE_PREFIX)
  );
}

/**
 * `@spendline/sdk` beside another instrumentation of the same client in one service (OpenLLMetry,
 * OpenInference, `@opentelemetry/instrumentation-openai`): both record the call. The SDK sends the request inside its span, so the other span is
 * its child when the SDK's wrapper is outermost, and its parent otherwise; the SDK's record (exact, with
 * a usage id) is the call and the other span is not counted. Looked for when the line holds the SDK's
 * scope name as a JSON string (anywhere: a false match only costs a walk of the line's spans).
 */
export function hasSdkSpans(line: string, sdkScopeName: string): boolean {
  return line.includes(`"${sdkScopeName}"`);
}

/** W3C trace-context: a `tracestate` holds at most 32 list members (more is not a valid header). */
const MAX_TRACESTATE_MEMBERS = 32;

/**
 * Whether another emitter's span is marked as part of a call `@spendline/sdk` records, in any export
 * (its pair need not be in the same line): the SDK sends the call in a span context whose W3C
 * `tracestate` has the entry `spendline=<that span's id>`, which every span made inside the call
 * inherits (the SDK's wrapper outermost): honoured only on a span whose parent is the span it names,
 * so an entry a caller sent from outside, or one a service downstream received, marks nothing. And
 * the SDK sets `spendline.sdk.recorded=true` on the other instrumentation's span it is called inside
 * (the SDK's wrapper innermost; an attribute of the span itself, not propagated).
 */
export function isMarkedBySdk(span: Record<string, unknown>): boolean {
  const ts = span.traceState;
  if (typeof ts === 'string' && ts.includes(SDK_TRACESTATE_PREFIX)) {
    const named = sdkTraceStateSpanId(ts);
    if (named !== '' && named === normalizeId(span.parentSpanId, 8)) return true;
  }
  const attrs = span.attributes;
  if (!Array.isArray(attrs)) return false;
  for (const kv of attrs) {
    if (typeof kv !== 'object' || kv === null || (kv as { key?: unknown }).key !== ATTR.sdkRecorded) continue;
    const v = (kv as { value?: JsonAnyValue }).value;
    return typeof v === 'object' && v !== null && v.boolValue === true;
  }
  return false;
}

const SDK_TRACESTATE_PREFIX = `${SDK_TRACESTATE.key}=`;
const SPAN_ID_HEX = /^[0-9a-f]{16}$/;

/** The span id the SDK's `tracestate` member names (lowercase hex), '' when there is none. */
function sdkTraceStateSpanId(ts: string): string {
  const members = ts.split(',', MAX_TRACESTATE_MEMBERS);
  for (const m of members) {
    const t = m.trim();
    if (!t.startsWith(SDK_TRACESTATE_PREFIX)) continue;
    const id = t.slice(SDK_TRACESTATE_PREFIX.length).toLowerCase();
    return SPAN_ID_HEX.test(id) ? id : '';
  }
  return '';
}

/** The span ids (lowercase hex) of the spans of one scope anywhere in the line. */
export function scopeSpanIds(resourceSpans: unknown, scopeName: string): Set<string> {
  const ids = new Set<string>();
  eachSpan(resourceSpans, (scope, sp) => {
    if (scope !== scopeName) return;
    const id = normalizeId(sp.spanId, 8);
    if (id !== '') ids.add(id);
  });
  return ids;
}

/** Calls `fn` with each span object of an OTLP/JSON `resourceSpans` list and its scope's name. */
function eachSpan(
  resourceSpans: unknown,
  fn: (scopeName: unknown, span: Record<string, unknown>) => void,
): void {
  if (!Array.isArray(resourceSpans)) return;
  for (const rs of resourceSpans) {
    const scopes = typeof rs === 'object' && rs !== null ? (rs as { scopeSpans?: unknown }).scopeSpans : null;
    if (!Array.isArray(scopes)) continue;
    for (const ss of scopes) {
      if (typeof ss !== 'object' || ss === null) continue;
      const { scope, spans } = ss as { scope?: { name?: unknown } | null; spans?: unknown };
      if (!Array.isArray(spans)) continue;
      for (const sp of spans)
        if (typeof sp === 'object' && sp !== null) fn(scope?.name, sp as Record<string, unknown>);
    }
  }
}

/**
 * Provider SDKs that trace their own API calls: `@anthropic-ai/sdk` (1.x, `src/internal/tracing.ts`: a
 * `chat` call span per API call, on by default whenever a tracer provider is registered). Under another
 * instrumentation that wraps the same client method and keeps its span current (OpenLIT), that one's span
 * is the parent of the SDK's span of the same call: the inner one is the call. Looked for once per line.
 */
const PROVIDER_SDK_SCOPE_MARKERS = ['"com.anthropic.sdk.'];

export function hasProviderSdkSpans(line: string): boolean {
  for (const marker of PROVIDER_SDK_SCOPE_MARKERS) if (line.includes(marker)) return true;
  return false;
}

/** Whether an OTLP span's attributes make it an inference span (as decodeSpan decides, without usage). */
function isInferenceSpan(attrs: unknown): boolean {
  if (!Array.isArray(attrs)) return false;
  for (const kv of attrs) {
    if (typeof kv !== 'object' || kv === null) continue;
    const { key, value } = kv as { key?: unknown; value?: unknown };
    if (typeof value !== 'object' || value === null) continue;
    const v = (value as JsonAnyValue).stringValue;
    if (typeof v !== 'string') continue;
    if (key === ATTR.operationName) {
      if (INFERENCE_OPERATIONS.has(canonicalOperation(v))) return true;
    } else if (key === ALIAS_ATTR.openInferenceSpanKind) {
      if (v === 'LLM' || v === 'EMBEDDING') return true;
    } else if (key === ALIAS_ATTR.llmRequestType) {
      if (LLM_REQUEST_TYPES.has(v)) return true;
    } else if (key === ALIAS_ATTR.vercelOperationId) {
      if (vercelOperation(v) !== '') return true;
    }
  }
  return false;
}

/** The parent span ids (lowercase hex) of the inference spans anywhere in the line. */
export function inferenceParentIds(resourceSpans: unknown): Set<string> {
  const ids = new Set<string>();
  eachSpan(resourceSpans, (_scope, sp) => {
    const p = normalizeId(sp.parentSpanId, 8);
    if (p !== '' && isInferenceSpan(sp.attributes)) ids.add(p);
  });
  return ids;
}
