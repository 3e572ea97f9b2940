import type { TokenCounts } from '../contract.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null ? (v as Obj) : undefined;
}
/**
 * A reported count: absent or `null` is 0 (not reported); anything else that is not a non-negative
 * safe integer (a negative, fractional, NaN, enormous or string count) is NaN, which poisons the
 * mapped counts so that `checkedProviderTokens` refuses them as a whole rather than recording a
 * made-up 0 as exact.
 */
function num(v: unknown): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : Number.NaN;
}

/** A count the provider's usage always has (e.g. chat `completion_tokens`): absent is NaN, not 0. */
function required(v: unknown): number {
  return v === undefined || v === null ? Number.NaN : num(v);
}

/**
 * Usage fields of a later stream event over an earlier one's, as the providers' own clients merge
 * them: a field the later event reports as `null` (Anthropic's `message_delta` types its input and
 * cache counts `number | null`) keeps the earlier value.
 */
export function mergeUsage(earlier: Obj | undefined, later: Obj | undefined): Obj | undefined {
  if (!later) return earlier;
  const out: Obj = { ...earlier };
  for (const [k, v] of Object.entries(later)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

const COUNT_FIELDS = [
  'inputTokens',
  'outputTokens',
  'cacheReadInputTokens',
  'cacheCreationInputTokens',
  'reasoningOutputTokens',
] as const;

/**
 * Provider-reported counts, or `undefined` when they cannot be exact: a count that is not a
 * non-negative safe integer, a total past 2^53, cache reads and writes beyond the input, or
 * reasoning beyond the output. The caller then estimates instead of recording them as `exact`.
 */
export function checkedProviderTokens(t: TokenCounts): TokenCounts | undefined {
  for (const f of COUNT_FIELDS) {
    const v = t[f];
    if (!(Number.isSafeInteger(v) && v >= 0)) return undefined;
  }
  if (t.cacheReadInputTokens + t.cacheCreationInputTokens > t.inputTokens) return undefined;
  if (t.reasoningOutputTokens > t.outputTokens) return undefined;
  return t;
}

/**
 * Prompt-cache writes (`cache_write_tokens`, typed by `openai` 7.40 and later with the 30-minute and
 * 12-hour caches; older clients pass it through): part of the prompt, like cache reads. Never more
 * than the prompt less its reads, so a malformed count cannot make the record invalid.
 */
function openAICacheWrite(details: Obj | undefined, input: number, cacheRead: number): number {
  return Math.min(num(details?.cache_write_tokens), Math.max(0, input - cacheRead));
}

/**
 * Chat completions usage: `prompt_tokens` includes `prompt_tokens_details.cached_tokens` (reads) and
 * `cache_write_tokens` (writes); `completion_tokens_details.reasoning_tokens` is part of the output.
 */
export function chatUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || u.prompt_tokens === undefined || u.prompt_tokens === null) return undefined;
  const input = num(u.prompt_tokens);
  const details = obj(u.prompt_tokens_details);
  const cacheRead = num(details?.cached_tokens);
  return {
    inputTokens: input,
    outputTokens: required(u.completion_tokens),
    cacheReadInputTokens: cacheRead,
    cacheCreationInputTokens: openAICacheWrite(details, input, cacheRead),
    reasoningOutputTokens: num(obj(u.completion_tokens_details)?.reasoning_tokens),
  };
}

/**
 * Responses API usage: `input_tokens` includes `input_tokens_details.cached_tokens` and
 * `cache_write_tokens`; `output_tokens_details.reasoning_tokens` is part of the output.
 */
export function responsesUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || u.input_tokens === undefined || u.input_tokens === null) return undefined;
  const input = num(u.input_tokens);
  const details = obj(u.input_tokens_details);
  const cacheRead = num(details?.cached_tokens);
  return {
    inputTokens: input,
    outputTokens: required(u.output_tokens),
    cacheReadInputTokens: cacheRead,
    cacheCreationInputTokens: openAICacheWrite(details, input, cacheRead),
    reasoningOutputTokens: num(obj(u.output_tokens_details)?.reasoning_tokens),
  };
}

/** Embeddings usage: `prompt_tokens`. */
export function embeddingUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || u.prompt_tokens === undefined || u.prompt_tokens === null) return undefined;
  return {
    inputTokens: num(u.prompt_tokens),
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: 0,
  };
}

/**
 * Anthropic usage → semconv: Anthropic's `input_tokens` excludes cache reads and writes, while
 * `gen_ai.usage.input_tokens` includes them, so they are added back. `output_tokens_details.thinking_tokens`
 * (extended thinking; `@anthropic-ai/sdk` ≥ 0.100) is the reasoning part of `output_tokens`.
 */
export function anthropicUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || u.input_tokens === undefined || u.input_tokens === null) return undefined;
  const cacheRead = num(u.cache_read_input_tokens);
  const cacheCreation = num(u.cache_creation_input_tokens);
  const output = required(u.output_tokens);
  return {
    inputTokens: num(u.input_tokens) + cacheRead + cacheCreation,
    outputTokens: output,
    cacheReadInputTokens: cacheRead,
    cacheCreationInputTokens: cacheCreation,
    reasoningOutputTokens: Math.min(num(obj(u.output_tokens_details)?.thinking_tokens), output),
  };
}

export function stringField(v: unknown, key: string): string | undefined {
  const x = obj(v)?.[key];
  return typeof x === 'string' && x !== '' ? x : undefined;
}

export { obj as asObject };

/**
 * Gemini `usageMetadata` → semconv: `promptTokenCount` already includes `cachedContentTokenCount`;
 * tool-use prompt tokens are input too; `thoughtsTokenCount` is billed as output but not included
 * in `candidatesTokenCount`, so it is added to the output (and is its reasoning subset).
 */
export function geminiUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || u.promptTokenCount === undefined || u.promptTokenCount === null) return undefined;
  const thoughts = num(u.thoughtsTokenCount);
  return {
    inputTokens: num(u.promptTokenCount) + num(u.toolUsePromptTokenCount),
    outputTokens: num(u.candidatesTokenCount) + thoughts,
    cacheReadInputTokens: num(u.cachedContentTokenCount),
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: thoughts,
  };
}

/**
 * Bedrock Converse `usage` (camelCase) and Anthropic-on-Bedrock InvokeModel `usage` (snake_case):
 * `inputTokens` excludes cache reads and writes, which semconv input includes.
 */
export function bedrockUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u) return undefined;
  if (typeof u.inputTokens === 'number') {
    const cacheRead = num(u.cacheReadInputTokens);
    const cacheWrite = num(u.cacheWriteInputTokens);
    return {
      inputTokens: num(u.inputTokens) + cacheRead + cacheWrite,
      outputTokens: required(u.outputTokens),
      cacheReadInputTokens: cacheRead,
      cacheCreationInputTokens: cacheWrite,
      reasoningOutputTokens: 0,
    };
  }
  return anthropicUsageTokens(u);
}
