/**
 * Usage a fake model reports, in semantic-convention terms: `inputTokens` includes cached and
 * cache-creation tokens, `outputTokens` includes reasoning tokens. Each protocol renders it its own
 * way (Anthropic's `input_tokens`, for one, excludes cache tokens).
 */
export interface FakeUsage {
  inputTokens: number;
  outputTokens: number;
  /** OpenAI `cached_tokens` / Anthropic `cache_read_input_tokens`. */
  cachedTokens?: number;
  /** OpenAI `cache_write_tokens` / Anthropic `cache_creation_input_tokens`. */
  cacheCreationTokens?: number;
  /** OpenAI `reasoning_tokens` / Anthropic `output_tokens_details.thinking_tokens`. */
  reasoningTokens?: number;
}

/** How one fake model behaves. */
export interface FakeModelBehaviour {
  usage?: FakeUsage;
  /** The served model reported back (`response.model`); default: the requested model. */
  responseModel?: string;
  /** The assistant's reply; streamed word by word. */
  reply?: string;
}

export const DEFAULT_FAKE_USAGE: Readonly<FakeUsage> = Object.freeze({ inputTokens: 11, outputTokens: 7 });
export const DEFAULT_FAKE_REPLY = 'Hello from the spendline fake provider.';

export interface ResolvedBehaviour {
  usage: Required<FakeUsage>;
  responseModel: string;
  reply: string;
}

export function resolveBehaviour(
  models: Readonly<Record<string, FakeModelBehaviour>>,
  model: string,
): ResolvedBehaviour {
  const b = models[model] ?? {};
  const u = b.usage ?? DEFAULT_FAKE_USAGE;
  return {
    usage: {
      inputTokens: u.inputTokens,
      outputTokens: u.outputTokens,
      cachedTokens: u.cachedTokens ?? 0,
      cacheCreationTokens: u.cacheCreationTokens ?? 0,
      reasoningTokens: u.reasoningTokens ?? 0,
    },
    responseModel: b.responseModel ?? model,
    reply: b.reply ?? DEFAULT_FAKE_REPLY,
  };
}

/** Splits a reply into stream deltas that concatenate back to it ("Hello", " from", …). */
export function replyDeltas(reply: string): string[] {
  return reply.match(/\s*\S+/g) ?? [reply];
}
