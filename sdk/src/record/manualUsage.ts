import type { AttributeValue } from '@opentelemetry/api';
import type { OperationName, RequestFeatures, UsageType } from '../contract.js';
import { usdToNano } from '../money.js';
import { activeRuntime, type TelemetryRuntime } from '../telemetry/runtime.js';
import { emitUsage, type UsageRecord } from './emitUsage.js';
import {
  type Checked,
  count,
  isReason,
  Reason,
  type Rejection,
  requiredString,
  type TokenInput,
  tokenCounts,
} from './validate.js';

/** Result of a manual record call: the record's `spendline.usage.id`, or why nothing was emitted. */
export type RecordResult = { ok: true; usageId: string } | Rejection;

interface CommonUsageInput {
  /** `gen_ai.provider.name`, e.g. `openai`, `anthropic`, `gcp.gemini`. */
  provider: string;
  /** Requested model. */
  model: string;
  responseModel?: string;
  /** `exact` (provider-reported, default) or `estimated`. */
  usageType?: Extract<UsageType, 'exact' | 'estimated'>;
  /** Call duration in ms (default 0). */
  durationMs?: number;
  /** Epoch ms when the call started (default: now − durationMs). */
  startTimeMs?: number;
  /** `error.type` when the call failed. */
  errorType?: string;
  /**
   * Your own price of the call in USD (e.g. a gateway's bill). Recorded as `spendline.cost.usd`
   * labelled `spendline.cost.source=emitter` instead of the SDK's price. The sidecar still prices
   * from its catalog when it knows the model; yours fills the gap when it does not.
   */
  costUsd?: number;
  /** Request features, recorded as `spendline.request.*` attributes. */
  features?: RequestFeatures;
  /** Additional attributes; contract attributes computed by the SDK take precedence. */
  attributes?: Record<string, AttributeValue>;
}

export interface LLMUsageInput extends CommonUsageInput, TokenInput {
  /** Default `chat`. */
  operation?: Extract<OperationName, 'chat' | 'text_completion' | 'generate_content'>;
  inputTokens: number;
  outputTokens: number;
  ttftMs?: number;
}

export interface EmbeddingUsageInput extends CommonUsageInput {
  inputTokens: number;
  /** Number of inputs embedded in the batch. */
  inputs?: number;
}

export interface OCRUsageInput extends CommonUsageInput {
  pages: number;
}

/** Longest call duration accepted (30 days): a longer one is a unit mistake that would swamp duration sums. */
const MAX_DURATION_MS = 30 * 24 * 3_600_000;
/** Latest time a JavaScript Date (and the sidecar) can hold. */
const MAX_TIME_MS = 8.64e15;

const NOT_STARTED: Rejection = { ok: false, reason: 'telemetry_not_started' };

function refuse(rt: TelemetryRuntime, r: Reason): Rejection {
  rt.stats.reject(r.reason);
  return { ok: false, reason: r.reason };
}

type CommonFields = Omit<UsageRecord, 'operation' | 'serviceType'>;

function validateCommon(input: CommonUsageInput): Checked<CommonFields> {
  if (input === null || typeof input !== 'object') return new Reason('not_an_object');
  const provider = requiredString(input.provider, 'provider');
  if (isReason(provider)) return provider;
  const model = requiredString(input.model, 'model');
  if (isReason(model)) return model;
  const d = input.durationMs;
  if (d !== undefined && (typeof d !== 'number' || !(d >= 0) || !(d <= MAX_DURATION_MS)))
    return new Reason('duration_ms_invalid');
  const u = input.usageType;
  if (u !== undefined && u !== 'exact' && u !== 'estimated') return new Reason('usage_type_invalid');
  const c = input.costUsd;
  // The sidecar refuses a whole record whose cost is past nano-USD's safe range (about 9 million USD).
  if (c !== undefined && (typeof c !== 'number' || !Number.isFinite(c) || c < 0 || !usdToNano(c).ok))
    return new Reason('cost_usd_invalid');
  const duration = d ?? 0;
  const start = input.startTimeMs;
  // A time the sidecar cannot store (past year 275760) would lose the record there; one before half of
  // the process's time origin (about 1998) OpenTelemetry reads as a monotonic-clock offset, and would
  // export as a time near now.
  if (
    typeof start === 'number' &&
    Number.isFinite(start) &&
    !(start >= performance.timeOrigin / 2 && start + duration <= MAX_TIME_MS)
  )
    return new Reason('start_time_ms_invalid');
  return {
    provider,
    requestModel: model,
    responseModel:
      typeof input.responseModel === 'string' && input.responseModel ? input.responseModel : undefined,
    usageType: u ?? 'exact',
    startTimeMs: typeof start === 'number' && Number.isFinite(start) ? start : Date.now() - duration,
    durationMs: duration,
    errorType: typeof input.errorType === 'string' && input.errorType ? input.errorType : undefined,
    extraAttributes: input.attributes,
    costUsdOverride: c,
    features: featuresOf(input.features),
  };
}

function featuresOf(f: unknown): RequestFeatures | undefined {
  if (typeof f !== 'object' || f === null) return undefined;
  const x = f as Record<string, unknown>;
  return {
    tools: x.tools === true,
    structuredOutput: x.structuredOutput === true,
    searchGrounding: x.searchGrounding === true,
  };
}

function guarded(fn: (rt: TelemetryRuntime) => RecordResult): RecordResult {
  const rt = activeRuntime();
  if (!rt) return NOT_STARTED;
  try {
    return fn(rt);
  } catch {
    rt.stats.s.internalErrors++;
    return { ok: false, reason: 'internal_error' };
  }
}

/** Records one LLM call. Invalid input is refused (and counted), never exported, never thrown. */
export function recordLLMUsage(input: LLMUsageInput): RecordResult {
  return guarded((rt) => {
    const common = validateCommon(input);
    if (isReason(common)) return refuse(rt, common);
    const tokens = tokenCounts(input, true);
    if (isReason(tokens)) return refuse(rt, tokens);
    const op = input.operation ?? 'chat';
    if (op !== 'chat' && op !== 'text_completion' && op !== 'generate_content') {
      return refuse(rt, new Reason('operation_invalid'));
    }
    const ttft = input.ttftMs;
    if (ttft !== undefined && (typeof ttft !== 'number' || !(ttft >= 0) || !Number.isFinite(ttft))) {
      return refuse(rt, new Reason('ttft_ms_invalid'));
    }
    const r = common as UsageRecord;
    r.operation = op;
    r.serviceType = 'llm';
    r.tokens = tokens;
    r.ttftMs = ttft;
    return { ok: true, usageId: emitUsage(rt, r) };
  });
}

/** Records one embedding batch. */
export function recordEmbeddingUsage(input: EmbeddingUsageInput): RecordResult {
  return guarded((rt) => {
    const common = validateCommon(input);
    if (isReason(common)) return refuse(rt, common);
    const tokens = tokenCounts({ inputTokens: input.inputTokens }, false);
    if (isReason(tokens)) return refuse(rt, tokens);
    const inputs = count(input.inputs, 'inputs', -1);
    if (isReason(inputs)) return refuse(rt, inputs);
    const r = common as UsageRecord;
    r.operation = 'embeddings';
    r.serviceType = 'embedding';
    r.tokens = tokens;
    r.embeddingInputs = inputs >= 0 ? inputs : undefined;
    return { ok: true, usageId: emitUsage(rt, r) };
  });
}

/** Records one OCR job, counted in pages. */
export function recordOCRUsage(input: OCRUsageInput): RecordResult {
  return guarded((rt) => {
    const common = validateCommon(input);
    if (isReason(common)) return refuse(rt, common);
    const pages = count(input.pages, 'pages');
    if (isReason(pages)) return refuse(rt, pages);
    const r = common as UsageRecord;
    r.operation = 'ocr';
    r.serviceType = 'ocr';
    r.ocrPages = pages;
    return { ok: true, usageId: emitUsage(rt, r) };
  });
}
