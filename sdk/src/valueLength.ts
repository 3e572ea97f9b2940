import { createHash } from 'node:crypto';

/**
 * Longest dimension value a record carries (provider, models, error type, usage-context values), in
 * UTF-16 code units, applied before export so that a hostile or runaway value (a 1 MiB user id) never
 * travels. The sidecar cuts what it receives with this same function (`sidecar/src/pipeline/valueLength.ts`),
 * so a value cut here is kept as it is.
 */
export const MAX_VALUE_LENGTH = 128;
/** Longest string value of a caller's extra attribute (manual API `attributes`). */
export const MAX_EXTRA_VALUE_LENGTH = 4096;
/** Hex digits of the full value's SHA-256 kept after the marker, so distinct long values stay distinct. */
const HASH_DIGITS = 12;
/** Marks a cut value: `<prefix>…~<12 hex of sha256(full value)>`, `max` characters in all. */
export const TRUNCATION_MARKER = '…~';

/** The value itself when short enough, else its prefix, the marker and a hash of the whole. */
export function capValueLength(value: string, max = MAX_VALUE_LENGTH): string {
  if (value.length <= max) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, HASH_DIGITS);
  let keep = max - TRUNCATION_MARKER.length - HASH_DIGITS;
  // Never split a surrogate pair.
  const last = value.charCodeAt(keep - 1);
  if (last >= 0xd800 && last <= 0xdbff) keep--;
  return `${value.slice(0, keep)}${TRUNCATION_MARKER}${hash}`;
}
