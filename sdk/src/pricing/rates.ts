import { parseExactDecimal } from '../money.js';

/** Prices are held as integers of 10^-18 USD per unit (per MTok, per page, per request). */
export const RATE_SCALE = 18;
const RATE_ONE = 10n ** BigInt(RATE_SCALE);

/** A flat rate, or tiers chosen by the call's total input tokens (genai-prices: tier applies when input > start). */
export type Rate = bigint | { base: bigint; tiers: { start: number; price: bigint }[] };

/** The token, page and request rates of one model at one point in time. */
export interface RateCard {
  input?: Rate;
  output?: Rate;
  cacheRead?: Rate;
  cacheWrite?: Rate;
  reasoning?: Rate;
  perPage?: Rate;
  perRequest?: Rate;
}

export type RateKey = keyof RateCard;

/**
 * Decimal (string or catalog number) to a scaled integer rate. `divisor` turns per-1000 catalog
 * units (kpages, kcount) into per-unit rates. Exact; rejects more precision than the scale holds.
 */
export function toScaledRate(
  value: string | number,
  divisorPow10 = 0,
): { ok: true; rate: bigint } | { ok: false; reason: string } {
  const parsed = parseExactDecimal(value);
  if (!parsed.ok) return parsed;
  const { units, scale } = parsed.value;
  if (units < 0n) return { ok: false, reason: `negative price: ${String(value)}` };
  const shift = RATE_SCALE - scale - divisorPow10;
  if (shift >= 0) return { ok: true, rate: units * 10n ** BigInt(shift) };
  const div = 10n ** BigInt(-shift);
  if (units % div !== 0n) {
    return { ok: false, reason: `more than ${RATE_SCALE - divisorPow10} decimal places: ${String(value)}` };
  }
  return { ok: true, rate: units / div };
}

/** The rate that applies to a call with `inputTokens` total input tokens. */
export function rateFor(rate: Rate, inputTokens: number): bigint {
  if (typeof rate === 'bigint') return rate;
  let price = rate.base;
  for (const tier of rate.tiers) if (inputTokens > tier.start) price = tier.price;
  return price;
}

/** Base (lowest-volume) rate, used for listings. */
export function baseRate(rate: Rate): bigint {
  return typeof rate === 'bigint' ? rate : rate.base;
}

/** Scaled integer rate back to a plain decimal string ("2.5", "0.075", "10"). */
export function rateToDecimal(rate: bigint): string {
  const whole = rate / RATE_ONE;
  const frac = (rate % RATE_ONE).toString().padStart(RATE_SCALE, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}
