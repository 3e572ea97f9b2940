import type { TokenCounts } from '../contract.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null ? (v as Obj) : undefined;
}
function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
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
  if (!u || typeof u.prompt_tokens !== 'number') return undefined;
  const input = num(u.prompt_tokens);
  const details = obj(u.prompt_tokens_details);
  const cacheRead = num(details?.cached_tokens);
  return {
    inputTokens: input,
    outputTokens: num(u.completion_tokens),
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
  if (!u || typeof u.input_tokens !== 'number') return undefined;
  const input = num(u.input_tokens);
  const details = obj(u.input_tokens_details);
  const cacheRead = num(details?.cached_tokens);
  return {
    inputTokens: input,
    outputTokens: num(u.output_tokens),
    cacheReadInputTokens: cacheRead,
    cacheCreationInputTokens: openAICacheWrite(details, input, cacheRead),
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
 * `gen_ai.usage.input_tokens` includes them, so they are added back. `output_tokens_details.thinking_tokens`
 * (extended thinking; `@anthropic-ai/sdk` ≥ 0.100) is the reasoning part of `output_tokens`.
 */
export function anthropicUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = obj(usage);
  if (!u || typeof u.input_tokens !== 'number') return undefined;
  const cacheRead = num(u.cache_read_input_tokens);
  const cacheCreation = num(u.cache_creation_input_tokens);
  const output = num(u.output_tokens);
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
