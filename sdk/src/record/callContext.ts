import {
  type AttributeValue,
  type Context,
  createTraceState,
  isSpanContextValid,
  type Span,
  type SpanContext,
  trace,
} from '@opentelemetry/api';
import {
  ALIAS_ATTR,
  ATTR,
  canonicalOperation,
  INFERENCE_OPERATIONS,
  LLM_REQUEST_TYPES,
  SDK_SCOPE_NAME,
  SDK_TRACESTATE,
  vercelOperation,
} from '../contract.js';

const EMPTY_TRACE_STATE = createTraceState();

/** What the marks read of a call's own span (the tracer's, or one made directly: directSpans.ts). */
type OwnSpan = Pick<Span, 'spanContext'>;

/** The span context with the {@link SDK_TRACESTATE} entry naming it (replacing any inherited one). */
function marked(sc: SpanContext): SpanContext {
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    traceFlags: sc.traceFlags,
    isRemote: sc.isRemote,
    traceState: (sc.traceState ?? EMPTY_TRACE_STATE).set(SDK_TRACESTATE.key, sc.spanId),
  };
}

/**
 * The span a recorded call is sent in: non-recording (as `trace.setSpanContext` makes it, so another
 * instrumentation cannot write to the SDK's span), its span context marked when first read. Only a
 * span started during the call (as its parent) or a propagator injecting headers reads it, so a call
 * during which neither happens pays for no trace state. The no-op methods are the API's
 * `NonRecordingSpan`'s, which the package does not export to extend.
 */
class MarkedCallSpan implements Span {
  #marked: SpanContext | undefined;

  constructor(
    private readonly own: OwnSpan,
    private readonly parent: Context,
  ) {}

  spanContext(): SpanContext {
    if (this.#marked === undefined) this.#marked = markedCallContext(this.own, this.parent);
    return this.#marked;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return false;
  }
  recordException(): void {}
}

/**
 * The call's span context with {@link SDK_TRACESTATE} naming it; with tracing off (no valid span of
 * ours), the caller's span context marked instead (naming the caller's span), else the call's own.
 */
function markedCallContext(span: OwnSpan, parent: Context): SpanContext {
  const own = span.spanContext();
  if (isSpanContextValid(own)) return marked(own);
  const outer = trace.getSpanContext(parent);
  return outer !== undefined && isSpanContextValid(outer) ? marked(outer) : own;
}

/**
 * The context a recorded call is sent in: the call's span is the parent of every span made during
 * it (the HTTP client's, another GenAI instrumentation's span of the same call), and its span context
 * carries {@link SDK_TRACESTATE} naming it, which those spans inherit. The sidecar does not count
 * another instrumentation's inference span whose parent is the span the entry names, in whatever
 * export it arrives (the SDK's record is the call). With tracing off (no span of ours), the caller's
 * span context is marked instead (naming the caller's span).
 */
export function callContext(parent: Context, span: OwnSpan): Context {
  return trace.setSpan(parent, new MarkedCallSpan(span, parent));
}

/** Whether a span's attributes make it a model call by the sidecar's rules (the contract's operation names). */
function isInferenceSpan(a: Record<string, AttributeValue | undefined>): boolean {
  const op = a[ATTR.operationName];
  if (typeof op === 'string') return INFERENCE_OPERATIONS.has(canonicalOperation(op));
  const kind = a[ALIAS_ATTR.openInferenceSpanKind];
  if (kind === 'LLM' || kind === 'EMBEDDING') return true;
  const vercel = a[ALIAS_ATTR.vercelOperationId];
  if (typeof vercel === 'string' && vercelOperation(vercel) !== '') return true;
  const type = a[ALIAS_ATTR.llmRequestType];
  return typeof type === 'string' && LLM_REQUEST_TYPES.has(type);
}

/**
 * When the call is made inside another instrumentation's span of this very call (that instrumentation's
 * wrapper outside the SDK's: OpenLLMetry, OpenInference, `@opentelemetry/instrumentation-openai`
 * patched after the SDK), marks that span `spendline.sdk.recorded=true`: the sidecar counts the SDK's
 * record of the call, not that span, in whatever export it arrives. Only a recording inference span of
 * another scope whose attributes can be read (the OpenTelemetry SDK's span, or OpenInference's wrapper
 * of one) is marked.
 */
export function markWrappingSpan(parent: Context): void {
  const outer = trace.getSpan(parent);
  if (outer === undefined || !outer.isRecording()) return;
  type Readable = {
    attributes?: Record<string, AttributeValue | undefined>;
    instrumentationScope?: { name?: string };
    instrumentationLibrary?: { name?: string };
  };
  // OpenInference's tracer hands out a wrapper (`OISpan`) holding the SDK span in `.span`.
  const o = outer as Span & Readable & { span?: Readable };
  const s: Readable =
    o.attributes === undefined && typeof o.span === 'object' && o.span !== null ? o.span : o;
  const a = s.attributes;
  if (typeof a !== 'object' || a === null || !isInferenceSpan(a)) return;
  if ((s.instrumentationScope ?? s.instrumentationLibrary)?.name === SDK_SCOPE_NAME) return;
  outer.setAttribute(ATTR.sdkRecorded, true);
}
