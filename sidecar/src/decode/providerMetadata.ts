/**
 * Readers of the Vercel AI SDK's `ai.response.providerMetadata` (the provider's own response metadata as
 * JSON text): the usage some providers report only there. Scans the text for a few keys, without parsing
 * it (it is only present on the AI SDK's spans and may be long).
 */
import { MAX_TOKENS_PER_RECORD } from './usageRecord.js';

/** The non-negative integer right after the first `key` at or after `from` in a JSON text, else -1. */
function intAfter(json: string, key: string, from: number): number {
  const at = json.indexOf(key, from);
  if (at < 0) return -1;
  let i = at + key.length;
  while (json.charCodeAt(i) === 32) i++;
  let n = -1;
  for (; i < json.length; i++) {
    const c = json.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    n = (n < 0 ? 0 : n * 10) + c;
    if (n > MAX_TOKENS_PER_RECORD) return -1;
  }
  return n;
}

/** Anthropic's raw usage: `input_tokens` leaves out `cache_read_input_tokens` and `cache_creation_input_tokens`. */
export interface AnthropicRawUsage {
  input: number;
  cacheRead: number;
  cacheWrite: number;
}

/** Reused: decoding is synchronous, the caller reads it before the next call. */
const anthropic: AnthropicRawUsage = { input: 0, cacheRead: 0, cacheWrite: 0 };

/** The raw usage under `"anthropic":{…"usage":{…}}` (`@ai-sdk/anthropic` 2-3), else null. */
export function anthropicRawUsage(meta: string): AnthropicRawUsage | null {
  const at = meta.indexOf('"anthropic":');
  if (at < 0) return null;
  const usage = meta.indexOf('"usage":{', at);
  if (usage < 0) return null;
  const input = intAfter(meta, '"input_tokens":', usage);
  if (input < 0) return null;
  anthropic.input = input;
  anthropic.cacheRead = Math.max(0, intAfter(meta, '"cache_read_input_tokens":', usage));
  anthropic.cacheWrite = Math.max(0, intAfter(meta, '"cache_creation_input_tokens":', usage));
  return anthropic;
}

/** Bedrock's cache write under `"bedrock":{…"usage":{"cacheWriteInputTokens":…}}` (`@ai-sdk/amazon-bedrock`), else -1. */
export function bedrockCacheWrite(meta: string): number {
  const at = meta.indexOf('"bedrock":');
  if (at < 0) return -1;
  const usage = meta.indexOf('"usage":{', at);
  if (usage < 0) return -1;
  return intAfter(meta, '"cacheWriteInputTokens":', usage);
}
