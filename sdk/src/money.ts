/**
 * Exact money helpers. Money inside spendline is integer nano-USD (1 USD = 1_000_000_000 nano) or a
 * decimal string; a float appears only at the edge (Prometheus sample, JSON for a chart).
 */

export const NANO_PER_USD = 1_000_000_000;

/** An exact decimal: `units / 10^scale`. */
export interface ExactDecimal {
  units: bigint;
  scale: number;
}

export type MoneyResult = { ok: true; nano: number } | { ok: false; reason: string };

// Optional sign, digits with an optional fraction (".5" and "5." allowed), optional exponent.
const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/;
const MAX_SCALE = 400;

/**
 * Parses a decimal string ("12.50", "-0.3", "1e-3", "2.5E+2") or a finite number into an exact
 * decimal. Numbers go through their shortest round-trip string, so `0.1` means exactly 1/10.
 */
export function parseExactDecimal(
  value: string | number,
): { ok: true; value: ExactDecimal } | { ok: false; reason: string } {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, reason: `not a finite number: ${String(value)}` };
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    return { ok: false, reason: `expected a decimal string or number, got ${typeof value}` };
  }
  const m = DECIMAL_RE.exec(text);
  const intPart = m?.[2] ?? '';
  const fracPart = m?.[3] ?? '';
  if (!m || (intPart === '' && fracPart === '')) {
    return { ok: false, reason: `not a decimal number: ${JSON.stringify(String(value))}` };
  }
  const exponent = m[4] === undefined ? 0 : Number(m[4]);
  let units = BigInt(`${intPart}${fracPart}` || '0');
  let scale = fracPart.length - exponent;
  if (scale < 0) {
    if (-scale > MAX_SCALE) return { ok: false, reason: `exponent out of range: ${text}` };
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  if (scale > MAX_SCALE) return { ok: false, reason: `too many decimal places: ${text}` };
  if (m[1] === '-') units = -units;
  return { ok: true, value: { units, scale } };
}

/** Divides by 10^shift (shift >= 0) rounding half to even. */
export function roundHalfEvenShift(units: bigint, shift: number): bigint {
  if (shift <= 0) return units * 10n ** BigInt(-shift);
  return divideHalfEven(units, 10n ** BigInt(shift));
}

/** Integer division rounding half to even (banker's rounding); divisor > 0. */
export function divideHalfEven(numerator: bigint, divisor: bigint): bigint {
  const negative = numerator < 0n;
  const abs = negative ? -numerator : numerator;
  let q = abs / divisor;
  const twiceRemainder = (abs % divisor) * 2n;
  if (twiceRemainder > divisor || (twiceRemainder === divisor && q % 2n === 1n)) q += 1n;
  return negative ? -q : q;
}

function decimalToNano(value: string | number, nanoExponent: number): MoneyResult {
  const parsed = parseExactDecimal(value);
  if (!parsed.ok) return parsed;
  // value * 10^nanoExponent = units * 10^(nanoExponent - scale)
  const nano = roundHalfEvenShift(parsed.value.units, parsed.value.scale - nanoExponent);
  if (nano > BigInt(Number.MAX_SAFE_INTEGER) || nano < BigInt(Number.MIN_SAFE_INTEGER)) {
    return { ok: false, reason: `out of range for nano-USD (max about 9,007,199 USD): ${String(value)}` };
  }
  // Avoid -0 from rounding a tiny negative amount to zero.
  return { ok: true, nano: nano === 0n ? 0 : Number(nano) };
}

/** Exact decimal USD (string or number) to integer nano-USD, half-even beyond 9 decimals. */
export function usdToNano(value: string | number): MoneyResult {
  return decimalToNano(value, 9);
}

/** Exact decimal cents (Anthropic cost report amounts) to integer nano-USD: 1 cent = 10^7 nano. */
export function centsToNano(value: string | number): MoneyResult {
  return decimalToNano(value, 7);
}

/** Nano-USD to a float USD; only for the edge (Prometheus samples, JSON for charts). */
export function nanoToUsd(nano: number | bigint): number {
  if (typeof nano === 'number') return nano / NANO_PER_USD;
  const whole = nano / 1_000_000_000n;
  const frac = nano % 1_000_000_000n;
  return Number(whole) + Number(frac) / NANO_PER_USD;
}

/** "$1,234.56" / "-$0.01": exact, half-even to `decimals` (0..9, default 2). */
export function formatUsd(nano: number | bigint, decimals = 2): string {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 9) {
    throw new RangeError(`formatUsd decimals must be an integer 0..9, got ${decimals}`);
  }
  const value = toBigIntNano(nano);
  const rounded = roundHalfEvenShift(value, 9 - decimals);
  const negative = rounded < 0n;
  const digits = (negative ? -rounded : rounded).toString().padStart(decimals + 1, '0');
  const intDigits = digits.slice(0, digits.length - decimals);
  const fracDigits = digits.slice(digits.length - decimals);
  const grouped = intDigits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}$${grouped}${decimals > 0 ? `.${fracDigits}` : ''}`;
}

/** Exact sum of nano-USD amounts; throws on a non-integer number (a bug upstream, not bad input). */
export function sumNano(values: Iterable<number | bigint>): bigint {
  let total = 0n;
  for (const v of values) total += toBigIntNano(v);
  return total;
}

function toBigIntNano(v: number | bigint): bigint {
  if (typeof v === 'bigint') return v;
  if (!Number.isSafeInteger(v)) throw new RangeError(`nano-USD must be a safe integer, got ${v}`);
  return BigInt(v);
}
