import type { TokenCounts } from '../contract.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null ? (v as Obj) : undefined;
}
function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

/** Chat completions usage: `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`. */
export function chatUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || typeof u.prompt_tokens !== 'number') return undefined;
  return {
    inputTokens: num(u.prompt_tokens),
    outputTokens: num(u.completion_tokens),
    cacheReadInputTokens: num(obj(u.prompt_tokens_details)?.cached_tokens),
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: num(obj(u.completion_tokens_details)?.reasoning_tokens),
  };
}

/** Responses API usage: `input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`. */
export function responsesUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || typeof u.input_tokens !== 'number') return undefined;
  return {
    inputTokens: num(u.input_tokens),
    outputTokens: num(u.output_tokens),
    cacheReadInputTokens: num(obj(u.input_tokens_details)?.cached_tokens),
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: num(obj(u.output_tokens_details)?.reasoning_tokens),
  };
}

/** Embeddings usage: `prompt_tokens`. */
export function embeddingUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || typeof u.prompt_tokens !== 'number') return undefined;
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
 * `gen_ai.usage.input_tokens` includes them, so they are added back.
 */
export function anthropicUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || typeof u.input_tokens !== 'number') return undefined;
  const cacheRead = num(u.cache_read_input_tokens);
  const cacheCreation = num(u.cache_creation_input_tokens);
  return {
    inputTokens: num(u.input_tokens) + cacheRead + cacheCreation,
    outputTokens: num(u.output_tokens),
    cacheReadInputTokens: cacheRead,
    cacheCreationInputTokens: cacheCreation,
    reasoningOutputTokens: 0,
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
  if (!u || typeof u.promptTokenCount !== 'number') return undefined;
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
      outputTokens: num(u.outputTokens),
      cacheReadInputTokens: cacheRead,
      cacheCreationInputTokens: cacheWrite,
      reasoningOutputTokens: 0,
    };
  }
  return anthropicUsageTokens(u);
}
