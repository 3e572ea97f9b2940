import type { TokenCounts } from '../contract.js';

export type Rejection = { ok: false; reason: string };

/**
 * Validators return the valid value or a rejection reason (a string). No result objects are
 * allocated on the success path: this runs on every record, on the caller's thread.
 */
export type Checked<T> = T | Reason;

/** A rejection reason, e.g. `input_tokens_negative`. */
export class Reason {
  constructor(readonly reason: string) {}
}

export function isReason(v: unknown): v is Reason {
  return v instanceof Reason;
}

/** Non-empty string after trimming, or a rejection naming the field. */
export function requiredString(value: unknown, field: string): Checked<string> {
  if (typeof value !== 'string') return new Reason(`missing_${field}`);
  const t = value.trim();
  return t === '' ? new Reason(`missing_${field}`) : t;
}

/** A count: a finite, non-negative integer (absent → `fallback`, or a rejection when there is none). */
export function count(value: unknown, field: string, fallback?: number): Checked<number> {
  if (value === undefined || value === null) {
    return fallback === undefined ? new Reason(`missing_${field}`) : fallback;
  }
  if (typeof value !== 'number' || Number.isNaN(value)) return new Reason(`${field}_not_a_number`);
  if (!Number.isFinite(value)) return new Reason(`${field}_not_finite`);
  if (value < 0) return new Reason(`${field}_negative`);
  if (!Number.isInteger(value)) return new Reason(`${field}_fractional`);
  if (!Number.isSafeInteger(value)) return new Reason(`${field}_too_large`);
  return value;
}

export interface TokenInput {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheCreationInputTokens?: number;
  reasoningOutputTokens?: number;
}

/** Validates token counts, and that cache and reasoning subsets fit in the totals they belong to. */
export function tokenCounts(input: TokenInput, requireOutput: boolean): Checked<TokenCounts> {
  const inputTokens = count(input.inputTokens, 'input_tokens');
  if (isReason(inputTokens)) return inputTokens;
  const outputTokens = count(input.outputTokens, 'output_tokens', requireOutput ? undefined : 0);
  if (isReason(outputTokens)) return outputTokens;
  const cacheRead = count(input.cacheReadInputTokens, 'cache_read_input_tokens', 0);
  if (isReason(cacheRead)) return cacheRead;
  const cacheCreation = count(input.cacheCreationInputTokens, 'cache_creation_input_tokens', 0);
  if (isReason(cacheCreation)) return cacheCreation;
  const reasoning = count(input.reasoningOutputTokens, 'reasoning_output_tokens', 0);
  if (isReason(reasoning)) return reasoning;
  if (cacheRead + cacheCreation > inputTokens) return new Reason('cache_tokens_exceed_input_tokens');
  if (reasoning > outputTokens) return new Reason('reasoning_tokens_exceed_output_tokens');
  return {
    inputTokens,
    outputTokens,
    cacheReadInputTokens: cacheRead,
    cacheCreationInputTokens: cacheCreation,
    reasoningOutputTokens: reasoning,
  };
}
