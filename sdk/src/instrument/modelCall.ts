import { performance } from 'node:perf_hooks';
import { type Context, context as otelContext, type Span, trace } from '@opentelemetry/api';
import { currentUsageContext, type UsageContext } from '../context/usageContext.js';
import type { OperationName, RequestFeatures, ServiceType, TokenCounts, UsageType } from '../contract.js';
import { callContext, markWrappingSpan } from '../record/callContext.js';
import { type CallSpan, emitUsage, startUsageSpan } from '../record/emitUsage.js';
import { type TelemetryRuntime, trackPending } from '../telemetry/runtime.js';
import { errorTypeOf } from './errorType.js';
import { estimateTokens, promptTexts } from './estimateTokens.js';
import { checkedProviderTokens } from './providerUsage.js';

/**
 * What an instrumentation knows of a call as it starts. A class, not an object literal: a call's spec
 * lives as long as the call, V8 pretenured the literal (allocated its objects in the old generation)
 * once it saw them survive, and building one then took 0.7 µs per call at its line in the benchmark's
 * CPU profile (docs/performance.md, session 17); a class instance is allocated young.
 */
export class CallSpec {
  constructor(
    readonly operation: OperationName,
    readonly serviceType: ServiceType,
    readonly provider: string,
    readonly requestModel: string,
    /** The request body (for tokenizer estimates and, with content capture on, the prompt). */
    readonly body: unknown,
    /** Tools / structured output / search grounding requested. */
    readonly features?: RequestFeatures | undefined,
  ) {}
}

/** What is known when a call ends; missing `tokens` means "estimate them". */
export interface CallOutcome {
  tokens?: TokenCounts | undefined;
  /** Known exact input tokens when output is unknown (e.g. Anthropic `message_start` before an abort). */
  knownInputTokens?: number | undefined;
  responseModel?: string | undefined;
  outputText?: string | undefined;
  embeddingInputs?: number | undefined;
  error?: unknown;
  /** The caller took the raw HTTP response (`asResponse()`): the usage is never seen, so it is unknown. */
  usageUnknown?: boolean | undefined;
}

/**
 * One instrumented model call from start to its single record. Captures the usage and
 * OpenTelemetry contexts at the start, so the record is attributed to the caller even when it
 * is emitted later (end of a stream, after a tokenizer estimate).
 */
export class ModelCall {
  readonly #startEpochMs = Date.now();
  readonly #t0 = performance.now();
  readonly #usageContext: Readonly<UsageContext> = currentUsageContext();
  readonly #parent: Context = otelContext.active();
  #span: CallSpan | undefined;
  #ttftMs: number | undefined;
  #done = false;
  #overBudget = false;

  constructor(
    private readonly rt: TelemetryRuntime,
    private readonly spec: CallSpec,
  ) {}

  /** The usage context captured when the call started. */
  get usageContext(): Readonly<UsageContext> {
    return this.#usageContext;
  }

  /**
   * Starts the call's span as the request is about to be sent (made directly where the runtime
   * allows it: directSpans.ts), and returns the context to send it in: spans made during the call (the
   * HTTP client's, another GenAI instrumentation's span of the same call) are its children. Where the
   * call marks its span context (records going to spendline), the context holds a marked view of the
   * span; otherwise the tracer's span as it is (so code run during the call can write to it). Never
   * throws (on failure the call is sent in the caller's context).
   */
  begin(): Context {
    try {
      const s = this.spec;
      const marks = this.rt.marksPeerSpans;
      const span = startUsageSpan(
        this.rt,
        s.operation,
        s.provider,
        s.requestModel,
        this.#startEpochMs,
        this.#parent,
        marks,
      );
      this.#span = span;
      if (!marks) return trace.setSpan(this.#parent, span as Span); // the tracer's (direct: false)
      markWrappingSpan(this.#parent);
      return callContext(this.#parent, span);
    } catch {
      this.rt.stats.s.internalErrors++;
      return this.#parent;
    }
  }

  /** A budget was exceeded and `enforce: 'warn'` let the call through: the record says so. */
  overBudget(): void {
    this.#overBudget = true;
  }

  firstToken(): void {
    if (this.#ttftMs === undefined) this.#ttftMs = performance.now() - this.#t0;
  }

  /** Emits the record once; later calls are ignored. Never throws. */
  finish(o: CallOutcome): void {
    if (this.#done) return;
    this.#done = true;
    try {
      const durationMs = performance.now() - this.#t0;
      // Counts a provider (or a proxy in front of it) reported malformed are not exact: estimated instead.
      let tokens = o.tokens && checkedProviderTokens(o.tokens);
      if (o.tokens && !tokens) {
        this.rt.stats.reject('provider_usage_invalid');
        // A sound input count is kept; the rest is estimated.
        o.knownInputTokens ??= o.tokens.inputTokens;
      } else if (tokens && tokens.inputTokens === 0 && tokens.outputTokens === 0) {
        // No call reads no input: all-zero usage is a placeholder (some OpenAI-compatible servers send
        // it), the sidecar's own rule too. Estimated, never an exact $0.
        this.rt.stats.reject('provider_usage_zero');
        tokens = undefined;
      }
      const knownInput = o.knownInputTokens;
      if (knownInput !== undefined && !(Number.isSafeInteger(knownInput) && knownInput >= 0)) {
        o.knownInputTokens = undefined;
      }
      if (tokens) {
        this.#emit(o, tokens, 'exact', durationMs);
        return;
      }
      // A failed call with nothing to estimate from, or a response read raw: its usage is unknown, never 0.
      if (o.usageUnknown || (o.error !== undefined && !o.outputText && o.knownInputTokens === undefined)) {
        this.#emit(o, undefined, 'unknown', durationMs);
        return;
      }
      trackPending(this.rt, this.#estimateThenEmit(o, durationMs));
    } catch {
      this.rt.stats.s.internalErrors++;
    }
  }

  async #estimateThenEmit(o: CallOutcome, durationMs: number): Promise<void> {
    const inputTokens =
      o.knownInputTokens ?? (await estimateTokens(this.spec.requestModel, promptTexts(this.spec.body)));
    const outputTokens = o.outputText ? await estimateTokens(this.spec.requestModel, [o.outputText]) : 0;
    const tokens: TokenCounts = {
      inputTokens,
      outputTokens,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      reasoningOutputTokens: 0,
    };
    this.#emit(o, tokens, 'estimated', durationMs);
  }

  #emit(o: CallOutcome, tokens: TokenCounts | undefined, usageType: UsageType, durationMs: number): void {
    const capture = this.rt.captureContent;
    emitUsage(this.rt, {
      operation: this.spec.operation,
      serviceType: this.spec.serviceType,
      provider: this.spec.provider,
      requestModel: this.spec.requestModel,
      responseModel: o.responseModel,
      tokens,
      embeddingInputs: o.embeddingInputs,
      usageType,
      startTimeMs: this.#startEpochMs,
      durationMs,
      ttftMs: this.#ttftMs,
      errorType: o.error !== undefined ? errorTypeOf(o.error) : undefined,
      inputContent: capture ? safeJson(inputOf(this.spec.body)) : undefined,
      outputContent:
        capture && o.outputText !== undefined
          ? safeJson([{ role: 'assistant', content: o.outputText }])
          : undefined,
      usageContext: this.#usageContext,
      parentContext: this.#parent,
      span: this.#span,
      features: this.spec.features,
      overBudget: this.#overBudget || undefined,
    });
  }
}

function inputOf(body: unknown): unknown {
  if (typeof body !== 'object' || body === null) return body;
  const b = body as Record<string, unknown>;
  return b.messages ?? b.input ?? b.prompt;
}

function safeJson(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return undefined;
  }
}
