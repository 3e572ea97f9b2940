import {
  AGGREGATE_OPERATION_NAMES,
  ALIAS_ATTR,
  ATTR,
  USAGE_TYPES,
  type UsageType,
} from '@spendline/sdk/contract';
import { resolveProviderName } from '@spendline/sdk/core';
import { type JsonAnyValue, numericValue, stringValue } from './anyValue.js';
import { anthropicRawUsage, bedrockCacheWrite } from './providerMetadata.js';
import { serviceTypeOf, usdToNanoOrNull } from './recordValues.js';
import {
  MAX_TIMESTAMP_MS,
  MAX_TOKENS_PER_RECORD,
  type RejectReason,
  type UsageRecord,
} from './usageRecord.js';

/**
 * The attributes of one log record or span, gathered in one pass (a key lookup and an integer
 * switch per attribute), then checked and turned into a UsageRecord. One module-level draft is reused:
 * decoding is synchronous, so nothing else can touch it in between.
 */

export enum Slot {
  Operation,
  Provider,
  System,
  LlmProvider,
  LlmSystem,
  RequestModel,
  ResponseModel,
  LlmModelName,
  AiModelProvider,
  AiModelId,
  EmbeddingModelName,
  AiOperationId,
  ServerAddress,
  OpenAiApiBase,
  LogfireSpanType,
  LlmRequestType,
  AiProviderMetadata,
  TelemetrySdkName,
  // Count slots: from Input to EmbeddingInputs (kept contiguous).
  Input,
  Prompt,
  LlmPrompt,
  AiInput,
  AiPrompt,
  AiEmbeddingTokens,
  Output,
  Completion,
  LlmCompletion,
  AiOutput,
  AiCompletion,
  CacheRead,
  LlmCacheRead,
  CacheReadOld,
  AiCacheRead,
  AiCachedInput,
  CacheCreation,
  CacheWrite,
  CacheWriteOld,
  LlmCacheWrite,
  AiCacheWrite,
  Reasoning,
  LlmReasoning,
  ReasoningOld,
  AiReasoning,
  AiReasoningDetail,
  LlmUsageReasoning,
  ServerPort,
  TotalTokens,
  LlmTotal,
  AiTotal,
  LlmUsageTotal,
  OcrPages,
  EmbeddingInputs,
  UsageId,
  UsageType,
  ServiceType,
  CostUsd,
  OpenLitCost,
  DurationMs,
  TtftMs,
  ErrorType,
  UserId,
  SessionId,
  Feature,
  TaskId,
  TenantId,
  AgentName,
  ExecutionPath,
  ConversationId,
  OiSpanKind,
}

const SLOT_OF_KEY = new Map<string, Slot>([
  [ATTR.operationName, Slot.Operation],
  [ATTR.providerName, Slot.Provider],
  [ALIAS_ATTR.system, Slot.System],
  [ALIAS_ATTR.openInferenceProvider, Slot.LlmProvider],
  [ALIAS_ATTR.openInferenceSystem, Slot.LlmSystem],
  [ATTR.requestModel, Slot.RequestModel],
  [ATTR.responseModel, Slot.ResponseModel],
  [ALIAS_ATTR.openInferenceModelName, Slot.LlmModelName],
  [ATTR.inputTokens, Slot.Input],
  [ALIAS_ATTR.promptTokens, Slot.Prompt],
  [ALIAS_ATTR.openInferencePromptTokens, Slot.LlmPrompt],
  [ATTR.outputTokens, Slot.Output],
  [ALIAS_ATTR.completionTokens, Slot.Completion],
  [ALIAS_ATTR.openInferenceCompletionTokens, Slot.LlmCompletion],
  [ATTR.cacheReadInputTokens, Slot.CacheRead],
  [ALIAS_ATTR.openInferenceCacheReadTokens, Slot.LlmCacheRead],
  [ATTR.cacheCreationInputTokens, Slot.CacheCreation],
  [ALIAS_ATTR.cacheWriteInputTokens, Slot.CacheWrite],
  [ALIAS_ATTR.openInferenceCacheWriteTokens, Slot.LlmCacheWrite],
  [ATTR.reasoningOutputTokens, Slot.Reasoning],
  [ALIAS_ATTR.openInferenceReasoningTokens, Slot.LlmReasoning],
  [ATTR.ocrPages, Slot.OcrPages],
  [ATTR.embeddingInputs, Slot.EmbeddingInputs],
  [ATTR.usageId, Slot.UsageId],
  [ATTR.usageType, Slot.UsageType],
  [ATTR.serviceType, Slot.ServiceType],
  [ATTR.costUsd, Slot.CostUsd],
  [ALIAS_ATTR.openLitCost, Slot.OpenLitCost],
  [ATTR.durationMs, Slot.DurationMs],
  [ATTR.ttftMs, Slot.TtftMs],
  [ATTR.errorType, Slot.ErrorType],
  [ATTR.userId, Slot.UserId],
  [ATTR.sessionId, Slot.SessionId],
  [ATTR.feature, Slot.Feature],
  [ATTR.taskId, Slot.TaskId],
  [ATTR.tenantId, Slot.TenantId],
  [ATTR.agentName, Slot.AgentName],
  [ATTR.executionPath, Slot.ExecutionPath],
  [ATTR.conversationId, Slot.ConversationId],
  [ALIAS_ATTR.openInferenceSpanKind, Slot.OiSpanKind],
  [ALIAS_ATTR.vercelModelProvider, Slot.AiModelProvider],
  [ALIAS_ATTR.vercelModelId, Slot.AiModelId],
  [ALIAS_ATTR.openInferenceEmbeddingModelName, Slot.EmbeddingModelName],
  [ALIAS_ATTR.totalTokens, Slot.TotalTokens],
  [ALIAS_ATTR.reasoningTokens, Slot.ReasoningOld],
  [ALIAS_ATTR.cacheReadInputTokensOld, Slot.CacheReadOld],
  [ALIAS_ATTR.cacheCreationInputTokensOld, Slot.CacheWriteOld],
  [ALIAS_ATTR.llmRequestType, Slot.LlmRequestType],
  [ALIAS_ATTR.vercelProviderMetadata, Slot.AiProviderMetadata],
  [ALIAS_ATTR.telemetrySdkName, Slot.TelemetrySdkName],
  [ALIAS_ATTR.llmUsageTotalTokens, Slot.LlmUsageTotal],
  [ALIAS_ATTR.llmUsageReasoningTokens, Slot.LlmUsageReasoning],
  [ALIAS_ATTR.openAiApiBase, Slot.OpenAiApiBase],
  [ALIAS_ATTR.logfireSpanType, Slot.LogfireSpanType],
  [ALIAS_ATTR.logfireCost, Slot.OpenLitCost],
  [ALIAS_ATTR.openInferenceTotalTokens, Slot.LlmTotal],
  [ALIAS_ATTR.vercelTotalTokens, Slot.AiTotal],
  [ALIAS_ATTR.vercelOperationId, Slot.AiOperationId],
  [ALIAS_ATTR.serverAddress, Slot.ServerAddress],
  [ALIAS_ATTR.serverPort, Slot.ServerPort],
  [ALIAS_ATTR.vercelInputTokens, Slot.AiInput],
  [ALIAS_ATTR.vercelPromptTokens, Slot.AiPrompt],
  [ALIAS_ATTR.vercelEmbeddingTokens, Slot.AiEmbeddingTokens],
  [ALIAS_ATTR.vercelOutputTokens, Slot.AiOutput],
  [ALIAS_ATTR.vercelCompletionTokens, Slot.AiCompletion],
  [ALIAS_ATTR.vercelCacheReadTokens, Slot.AiCacheRead],
  [ALIAS_ATTR.vercelCachedInputTokens, Slot.AiCachedInput],
  [ALIAS_ATTR.vercelCacheWriteTokens, Slot.AiCacheWrite],
  [ALIAS_ATTR.vercelReasoningTokens, Slot.AiReasoning],
  [ALIAS_ATTR.vercelReasoningDetailTokens, Slot.AiReasoningDetail],
]);

/**
 * SLOT_OF_KEY by key length: the attribute keys JSON.parse hands over are fresh strings, so a Map
 * lookup hashes every one; comparing with the few known keys of the same length is several times faster.
 */
const SLOTS_BY_LENGTH: (readonly [string, Slot])[][] = [];
for (const [key, slot] of SLOT_OF_KEY) {
  let list = SLOTS_BY_LENGTH[key.length];
  if (list === undefined) {
    list = [];
    SLOTS_BY_LENGTH[key.length] = list;
  }
  list.push([key, slot]);
}

/** The known attribute named `key`: its key as the table spells it, and its slot; undefined for others. */
export function attributeOf(key: string): readonly [string, Slot] | undefined {
  const candidates = SLOTS_BY_LENGTH[key.length];
  if (candidates === undefined) return undefined;
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i] as readonly [string, Slot];
    if (c[0] === key) return c;
  }
  return undefined;
}

const FIRST_COUNT_SLOT = Slot.Input;
const LAST_COUNT_SLOT = Slot.EmbeddingInputs;

// Each token type's slots, first present wins: the contract's name, older semconv, OpenInference, Vercel AI SDK.
const INPUT_SLOTS = [
  Slot.Input,
  Slot.Prompt,
  Slot.LlmPrompt,
  Slot.AiInput,
  Slot.AiPrompt,
  Slot.AiEmbeddingTokens,
];
const OUTPUT_SLOTS = [Slot.Output, Slot.Completion, Slot.LlmCompletion, Slot.AiOutput, Slot.AiCompletion];
const CACHE_READ_SLOTS = [
  Slot.CacheRead,
  Slot.LlmCacheRead,
  Slot.CacheReadOld,
  Slot.AiCacheRead,
  Slot.AiCachedInput,
];
const CACHE_WRITE_SLOTS = [
  Slot.CacheCreation,
  Slot.CacheWrite,
  Slot.LlmCacheWrite,
  Slot.CacheWriteOld,
  Slot.AiCacheWrite,
];
const TOTAL_SLOTS = [Slot.TotalTokens, Slot.LlmTotal, Slot.AiTotal, Slot.LlmUsageTotal];
const OCR_PAGE_SLOTS = [Slot.OcrPages];
const EMBEDDING_INPUT_SLOTS = [Slot.EmbeddingInputs];
const REASONING_SLOTS = [
  Slot.Reasoning,
  Slot.LlmReasoning,
  Slot.ReasoningOld,
  Slot.AiReasoning,
  Slot.AiReasoningDetail,
  Slot.LlmUsageReasoning,
];
/** The token counts the cache corrections adjust. */
type CacheTokens = { inputTokens: number; cacheReadInputTokens: number; cacheCreationInputTokens: number };
/** `ai.model.provider` of the Vercel AI SDK's Amazon Bedrock provider. */
const BEDROCK_PROVIDER_ID = 'amazon-bedrock';
/** OpenLIT's `telemetry.sdk.name` span attribute. */
const OPENLIT_SDK_NAME = 'openlit';
/** Micrometer's value of a key-value it has no value for (`KeyValue.NONE_VALUE`), as Spring AI exports it. */
const MICROMETER_NONE = 'none';
const AGGREGATE_OPERATIONS: ReadonlySet<string> = new Set(AGGREGATE_OPERATION_NAMES);
const USAGE_TYPE_SET: ReadonlySet<string> = new Set(USAGE_TYPES);

/** Resource attributes shared by every record under one resource. */
export interface ResourceInfo {
  service: string;
  serviceVersion: string;
  environment: string;
}

export class UsageDraft {
  /** Count slots (tokens, pages, inputs); -1 = absent. Indexed by Slot - FIRST_COUNT_SLOT. */
  readonly counts: number[] = new Array<number>(LAST_COUNT_SLOT - FIRST_COUNT_SLOT + 1).fill(-1);
  /** String slots; '' = absent. Indexed by Slot. */
  readonly strings: string[] = new Array<string>(Slot.OiSpanKind + 1).fill('');
  hasCount = false;
  cost: string | number | undefined = undefined;
  costIsSpendline = false;
  /**
   * Latencies, null when absent. Kept as null-or-number (not NaN-or-number) so the record built from
   * them gets the same field types every time: a NaN default made V8 keep these fields as unboxed
   * doubles and the record's literal then deoptimized over and over (~40 % of decoding time).
   */
  durationMs: number | null = null;
  ttftMs: number | null = null;
  errorReason: RejectReason | null = null;
  errorDetail = '';

  /**
   * A slot was written since the last reset. Records without a known attribute (most of a line's
   * ordinary telemetry, or millions of empty records in a hostile line) then cost no refill.
   */
  private written = false;

  reset(): void {
    if (this.written) {
      this.counts.fill(-1);
      this.strings.fill('');
      this.written = false;
    }
    this.hasCount = false;
    this.cost = undefined;
    this.costIsSpendline = false;
    this.durationMs = null;
    this.ttftMs = null;
    this.errorReason = null;
    this.errorDetail = '';
  }

  private fail(reason: RejectReason, key: string): void {
    if (this.errorReason !== null) return;
    this.errorReason = reason;
    this.errorDetail = key;
  }

  /** Reads one OTLP `KeyValue`; unknown keys cost a length check (and a few compares). */
  addAttribute(kv: unknown): void {
    if (typeof kv !== 'object' || kv === null) {
      this.fail('bad_type', 'attribute is not an object');
      return;
    }
    const { key, value } = kv as { key?: unknown; value?: unknown };
    if (typeof key !== 'string') {
      this.fail('bad_type', 'attribute key is not a string');
      return;
    }
    const slot = attributeOf(key)?.[1];
    if (slot === undefined) return;
    if (typeof value !== 'object' || value === null) {
      this.fail('bad_type', key);
      return;
    }
    this.addValue(slot, key, value as JsonAnyValue);
  }

  /**
   * Reads the value of a known attribute (`slot` is `key`'s, the value an object): what `addAttribute`
   * does once the key is looked up. The line scanner (otlpLogScan.ts) calls it with the key it matched.
   */
  addValue(slot: Slot, key: string, v: JsonAnyValue): void {
    if (slot >= FIRST_COUNT_SLOT && slot <= LAST_COUNT_SLOT) {
      this.addCount(slot, key, v);
      return;
    }
    switch (slot) {
      case Slot.CostUsd:
      case Slot.OpenLitCost: {
        // The contract's own cost wins over OpenLIT's, whatever the attribute order.
        if (this.costIsSpendline && slot === Slot.OpenLitCost) return;
        const d = v.doubleValue ?? v.intValue ?? v.stringValue;
        if (typeof d !== 'number' && typeof d !== 'string') {
          this.fail('bad_type', key);
          return;
        }
        // OpenLIT writes 0 when it has no price for the model: that is an unknown price, never $0.
        if (slot === Slot.OpenLitCost && key === ALIAS_ATTR.openLitCost && Number(d) === 0) return;
        this.cost = d;
        this.costIsSpendline = slot === Slot.CostUsd;
        return;
      }
      case Slot.DurationMs:
      case Slot.TtftMs: {
        const n = numericValue(v);
        // A nonsensical latency is dropped, not a reason to lose the call's tokens.
        const ok = Number.isFinite(n) && n >= 0;
        if (slot === Slot.DurationMs) this.durationMs = ok ? n : null;
        else this.ttftMs = ok ? n : null;
        return;
      }
      default: {
        const s = stringValue(v);
        if (s === undefined) {
          this.fail('bad_type', key);
          return;
        }
        this.strings[slot] = s;
        this.written = true;
      }
    }
  }

  private addCount(slot: Slot, key: string, v: JsonAnyValue): void {
    const n = numericValue(v);
    if (Number.isNaN(n) || (!Number.isFinite(n) && n < 0)) {
      this.fail('bad_type', key);
      return;
    }
    if (n < 0) {
      this.fail('negative_tokens', `${key}=${n}`);
      return;
    }
    if (n > MAX_TOKENS_PER_RECORD) {
      this.fail('absurd_tokens', `${key}=${n}`);
      return;
    }
    if (!Number.isInteger(n)) {
      this.fail('fractional_tokens', `${key}=${n}`);
      return;
    }
    this.counts[slot - FIRST_COUNT_SLOT] = n + 0; // no -0
    this.written = true;
    if (slot === Slot.ServerPort) return;
    this.hasCount = true;
  }

  get operation(): string {
    return this.strings[Slot.Operation] ?? '';
  }
  get usageId(): string {
    return this.strings[Slot.UsageId] ?? '';
  }
  get errorType(): string {
    return this.strings[Slot.ErrorType] ?? '';
  }
  get openInferenceSpanKind(): string {
    return this.strings[Slot.OiSpanKind] ?? '';
  }
  /** Pydantic Logfire's `logfire.span_type` (`span`, `log`, `pending_span`), '' when absent. */
  get logfireSpanType(): string {
    return this.strings[Slot.LogfireSpanType] ?? '';
  }
  /** OpenLLMetry's `llm.request.type` (`chat`, `completion`, `embedding`, …), '' when absent. */
  get llmRequestType(): string {
    return this.strings[Slot.LlmRequestType] ?? '';
  }
  /** Vercel AI SDK 4-6 `ai.operationId` (`ai.generateText.doGenerate`, `ai.embedMany`, …). */
  get vercelOperationId(): string {
    return this.strings[Slot.AiOperationId] ?? '';
  }
  /** `gen_ai.request.model`, '' when absent. */
  get requestModel(): string {
    return this.strings[Slot.RequestModel] ?? '';
  }
  /** Some usage is present: a token, page or input count. */
  get hasUsage(): boolean {
    return this.hasCount;
  }
  isAggregateOperation(): boolean {
    return AGGREGATE_OPERATIONS.has(this.strings[Slot.Operation] ?? '');
  }

  private countAt(slot: Slot): number {
    return this.counts[slot - FIRST_COUNT_SLOT] ?? -1;
  }

  /** The first present of the count slots, else -1. */
  private present(slots: readonly Slot[]): number {
    for (let i = 0; i < slots.length; i++) {
      const v = this.countAt(slots[i] as Slot);
      if (v >= 0) return v;
    }
    return -1;
  }

  /**
   * The Vercel AI SDK with its Anthropic provider: up to AI SDK 5 (`@ai-sdk/anthropic` 1-2) the input count
   * is Anthropic's `input_tokens`, which leaves out the cache reads and writes, and the cache write (and,
   * but on streams, the cache read) is only in `ai.response.providerMetadata`; AI SDK 6's object calls
   * leave the cache counts there too. Anthropic's raw usage in that JSON says which: an input equal to
   * its `input_tokens` is without the cache, and the cache counts missing from the attributes are its own.
   * (`@ai-sdk/anthropic` dist: `convertAnthropicMessagesUsage` (3.x); `doGenerate` usage (1.x-2.x).)
   */
  private addAnthropicCache(tokens: CacheTokens, meta: string): void {
    const raw = anthropicRawUsage(meta);
    if (raw === null || raw.cacheRead + raw.cacheWrite === 0) return;
    if (this.present(INPUT_SLOTS) === raw.input)
      tokens.inputTokens = raw.input + raw.cacheRead + raw.cacheWrite;
    if (this.present(CACHE_READ_SLOTS) < 0) tokens.cacheReadInputTokens = raw.cacheRead;
    if (this.present(CACHE_WRITE_SLOTS) < 0) tokens.cacheCreationInputTokens = raw.cacheWrite;
  }

  /**
   * The Vercel AI SDK 4-5 with Amazon Bedrock (`@ai-sdk/amazon-bedrock` 2-3): the input count is Bedrock's
   * `inputTokens`, which leaves out the cache reads and writes (4.x, AI SDK 6, adds them:
   * `convertBedrockUsage`); a stream's cache read is `ai.usage.cachedInputTokens`, the cache write is in
   * the provider metadata. Only text calls: AI SDK 6 gives their input details, so a text call without
   * them is 4-5; object calls look the same in 5 and 6 and are left as reported.
   */
  private addBedrockCache(tokens: CacheTokens, meta: string): void {
    const op = this.strings[Slot.AiOperationId] ?? '';
    if (!op.endsWith('generateText.doGenerate') && !op.endsWith('streamText.doStream')) return;
    if (this.strings[Slot.AiModelProvider] !== BEDROCK_PROVIDER_ID) return;
    if (this.countAt(Slot.AiCacheRead) >= 0 || this.countAt(Slot.AiCacheWrite) >= 0) return;
    const read = Math.max(0, this.countAt(Slot.AiCachedInput));
    const write = Math.max(0, bedrockCacheWrite(meta));
    if (read + write === 0) return;
    tokens.inputTokens += read + write;
    tokens.cacheReadInputTokens = read;
    tokens.cacheCreationInputTokens = write;
  }

  /** The reported provider name is Anthropic's (`anthropic`, any case). */
  private isAnthropic(): boolean {
    const reported = this.str(Slot.Provider, Slot.System, Slot.LlmProvider, Slot.LlmSystem);
    return reported.length === 9 && reported.toLowerCase() === 'anthropic';
  }

  /** The first present of the count slots, else 0. */
  private count(slots: readonly Slot[]): number {
    for (let i = 0; i < slots.length; i++) {
      const v = this.countAt(slots[i] as Slot);
      if (v >= 0) return v;
    }
    return 0;
  }

  /** The first non-empty of up to four string slots (repeat a slot to pass fewer), else ''. */
  private str(a: Slot, b: Slot, c: Slot, d: Slot): string {
    const s = this.strings;
    return s[a] || s[b] || s[c] || s[d] || '';
  }

  /**
   * Checks the gathered attributes and builds the record, or returns the rejection. `operation`
   * overrides the attribute (OpenInference spans have none); `errorType` is the final error.type.
   */
  finish(
    source: UsageRecord['source'],
    dedupKey: string,
    timestampMs: number,
    resource: ResourceInfo,
    operation: string,
    errorType: string,
    durationFallbackMs: number,
  ): UsageRecord | { reason: RejectReason; detail: string } {
    if (this.errorReason !== null) return { reason: this.errorReason, detail: this.errorDetail };
    // Slot order: the contract's name first, then older semconv, then OpenInference.
    const tokens = {
      inputTokens: this.count(INPUT_SLOTS),
      outputTokens: this.count(OUTPUT_SLOTS),
      cacheReadInputTokens: this.count(CACHE_READ_SLOTS),
      cacheCreationInputTokens: this.count(CACHE_WRITE_SLOTS),
      reasoningOutputTokens: this.count(REASONING_SLOTS),
    };
    const providerMetadata = this.strings[Slot.AiProviderMetadata] ?? '';
    if (providerMetadata !== '') {
      this.addAnthropicCache(tokens, providerMetadata);
      this.addBedrockCache(tokens, providerMetadata);
    }
    // OpenLIT (Python and TS) reports Anthropic's own input_tokens, which leave out the cache reads and
    // writes it reports beside them (openlit instrumentation/anthropic: utils.py, wrapper.ts).
    if (this.strings[Slot.TelemetrySdkName] === OPENLIT_SDK_NAME && this.isAnthropic())
      tokens.inputTokens += tokens.cacheReadInputTokens + tokens.cacheCreationInputTokens;
    // OpenInference may report only completion and total (total = prompt + completion): prompt is the rest.
    // A total alone has no split: counted as input and labelled total_only (its price is a lower bound).
    let totalOnly = false;
    if (this.present(INPUT_SLOTS) < 0) {
      const total = this.present(TOTAL_SLOTS);
      if (total >= tokens.outputTokens) tokens.inputTokens = total - tokens.outputTokens;
      totalOnly = total >= 0 && this.present(OUTPUT_SLOTS) < 0;
    }
    if (tokens.cacheReadInputTokens + tokens.cacheCreationInputTokens > tokens.inputTokens) {
      return {
        reason: 'inconsistent_tokens',
        detail: `cache_read ${tokens.cacheReadInputTokens} + cache_creation ${tokens.cacheCreationInputTokens} > input ${tokens.inputTokens}`,
      };
    }
    if (tokens.reasoningOutputTokens > tokens.outputTokens) {
      return {
        reason: 'inconsistent_tokens',
        detail: `reasoning ${tokens.reasoningOutputTokens} > output ${tokens.outputTokens}`,
      };
    }
    let requestModel = this.str(
      Slot.RequestModel,
      Slot.LlmModelName,
      Slot.EmbeddingModelName,
      Slot.AiModelId,
    );
    let responseModel = this.strings[Slot.ResponseModel] ?? '';
    // Spring AI writes Micrometer's `KeyValue.NONE_VALUE` for a model it does not know (a failed call's
    // response model, a request without a model option): no model, not one named "none".
    if (requestModel === MICROMETER_NONE) requestModel = '';
    if (responseModel === MICROMETER_NONE) responseModel = '';
    if (requestModel === '' && responseModel === '')
      return { reason: 'missing_model', detail: 'no model attribute' };
    const reported =
      this.str(Slot.Provider, Slot.System, Slot.LlmProvider, Slot.LlmSystem) ||
      (this.strings[Slot.AiModelProvider] ?? '');
    const port = this.countAt(Slot.ServerPort);
    const provider = resolveProviderName(
      reported,
      this.strings[Slot.ServerAddress] || (this.strings[Slot.OpenAiApiBase] ?? ''),
      port >= 0 ? port : undefined,
    );
    if (provider === '') return { reason: 'missing_provider', detail: 'no provider attribute' };
    if (!(timestampMs > 0 && timestampMs <= MAX_TIMESTAMP_MS))
      return { reason: 'bad_timestamp', detail: String(timestampMs) };
    const usageTypeRaw = this.strings[Slot.UsageType] ?? '';
    // Declared by the emitter (this SDK always declares it); otherwise a call without any usage count
    // has unknown usage: its own usage type, never 0 exact tokens. So has a call whose counts are all 0:
    // no call reads no input, the emitter had no usage (opentelemetry-instrumentation-google-genai sets
    // its 0-initialised counts whatever the outcome; Spring AI reports its EmptyUsage as zeros).
    let usageType: UsageType = totalOnly ? 'total_only' : this.hasCount ? 'exact' : 'unknown';
    if (
      usageType === 'exact' &&
      tokens.inputTokens === 0 &&
      tokens.outputTokens === 0 &&
      this.count(OCR_PAGE_SLOTS) === 0 &&
      this.count(EMBEDDING_INPUT_SLOTS) === 0
    )
      usageType = 'unknown';
    if (USAGE_TYPE_SET.has(usageTypeRaw)) usageType = usageTypeRaw as UsageType;
    else if (usageTypeRaw !== '') {
      return { reason: 'bad_type', detail: `${ATTR.usageType}=${usageTypeRaw}` };
    }
    let emitterCostNanoUsd: number | null = null;
    if (this.cost !== undefined) {
      emitterCostNanoUsd = usdToNanoOrNull(this.cost);
      if (emitterCostNanoUsd === null) return { reason: 'bad_type', detail: `cost ${String(this.cost)}` };
    }
    const durationMs =
      this.durationMs !== null
        ? this.durationMs
        : Number.isNaN(durationFallbackMs)
          ? null
          : durationFallbackMs;
    const s = this.strings;
    return {
      dedupKey,
      source,
      timestampMs,
      provider,
      requestModel,
      responseModel,
      operation,
      serviceType: serviceTypeOf(s[Slot.ServiceType] ?? '', operation),
      service: resource.service,
      serviceVersion: resource.serviceVersion,
      environment: resource.environment,
      status: errorType === '' ? 'ok' : 'error',
      errorType,
      usageType,
      tokens,
      ocrPages: this.count(OCR_PAGE_SLOTS),
      embeddingInputs: this.count(EMBEDDING_INPUT_SLOTS),
      emitterCostNanoUsd,
      durationMs,
      ttftMs: this.ttftMs,
      userId: s[Slot.UserId] ?? '',
      sessionId: s[Slot.SessionId] ?? '',
      feature: s[Slot.Feature] ?? '',
      taskId: s[Slot.TaskId] ?? '',
      tenantId: s[Slot.TenantId] ?? '',
      agentName: s[Slot.AgentName] ?? '',
      executionPath: s[Slot.ExecutionPath] ?? '',
      conversationId: s[Slot.ConversationId] ?? '',
      sourceName: '',
    };
  }
}
