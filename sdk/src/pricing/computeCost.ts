import { type RateCard, rateFor } from './rates.js';
import type { PriceParts, PriceResult, UsageToPrice } from './types.js';

// Token parts are tokens x (10^-18 USD per MTok) = 10^-24 USD; pages and requests are
// count x 10^-18 USD, so they are lifted by 10^6 onto the same unit before one exact sum.
const PER_UNIT_LIFT = 1_000_000n;
const UNIT_PER_NANO = 1_000_000_000_000_000n;

const PART_NAMES = [
  'input',
  'cache_read',
  'cache_write',
  'output',
  'reasoning',
  'pages',
  'requests',
] as const;

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * Prices one call from its rate card, exactly: each disjoint part at its own rate (cache read and
 * write fall back to the input rate, reasoning to the output rate), one half-even rounding of the
 * sum to nano-USD, and parts apportioned by largest remainder so they add up to the total.
 */
export function computeCost(
  usage: UsageToPrice,
  card: RateCard,
  meta: { source: 'catalog' | 'override'; providerId: string; modelId: string },
): PriceResult {
  const exact = exactParts(usage, card);
  if (exact === undefined) return { status: 'unpriced', reason: 'no_price_for_usage' };
  const cost = roundHalfEven(sum(exact));
  const parts = apportion(exact, cost);
  return { status: 'priced', costNanoUsd: Number(cost), parts, ...meta };
}

/** computeCost's total alone (integer nano-USD, the same rounding), without the parts; null when unpriced. */
export function computeCostNano(usage: UsageToPrice, card: RateCard): number | null {
  const fast = costNanoSafeInteger(usage, card);
  if (fast !== undefined) return fast;
  const exact = exactParts(usage, card);
  return exact === undefined ? null : Number(roundHalfEven(sum(exact)));
}

/** A rate (10^-24 USD per unit) split so that count x part stays a safe integer: a*10^15 + c*10^7 + d. */
interface SplitRate {
  a: number;
  c: number;
  d: number;
}
const splits = new Map<bigint, SplitRate | null>();
const MAX = Number.MAX_SAFE_INTEGER;

function splitRate(units: bigint): SplitRate | null {
  let s = splits.get(units);
  if (s === undefined) {
    const a = units / UNIT_PER_NANO;
    const r = units % UNIT_PER_NANO;
    s = a > BigInt(MAX) ? null : { a: Number(a), c: Number(r / 10_000_000n), d: Number(r % 10_000_000n) };
    if (splits.size < 4096) splits.set(units, s);
  }
  return s;
}

/** floor(x / m) and x mod m for safe non-negative integers, corrected for float rounding. */
function divMod(x: number, m: number): [number, number] {
  let q = Math.floor(x / m);
  let r = x - q * m;
  if (r < 0) {
    q--;
    r += m;
  } else if (r >= m) {
    q++;
    r -= m;
  }
  return [q, r];
}

/**
 * The disjoint parts a call is priced by, in order: uncached input, cache read, cache write,
 * non-reasoning output, reasoning, OCR pages, requests. Read by index (no per-call arrays: this is
 * the record path).
 */
const PARTS = 7;
const REQUEST_PART = 6;

/** True when every count the parts read is a valid count. */
function hasCounts(usage: UsageToPrice): boolean {
  return (
    isCount(usage.inputTokens) &&
    isCount(usage.outputTokens) &&
    isCount(usage.cacheReadInputTokens) &&
    isCount(usage.cacheCreationInputTokens) &&
    isCount(usage.reasoningOutputTokens) &&
    isCount(usage.ocrPages ?? 0) &&
    isCount(usage.requests ?? 1)
  );
}

function partCount(usage: UsageToPrice, part: number): number {
  switch (part) {
    case 0:
      return Math.max(0, usage.inputTokens - usage.cacheReadInputTokens - usage.cacheCreationInputTokens);
    case 1:
      return usage.cacheReadInputTokens;
    case 2:
      return usage.cacheCreationInputTokens;
    case 3:
      return Math.max(0, usage.outputTokens - usage.reasoningOutputTokens);
    case 4:
      return usage.reasoningOutputTokens;
    case 5:
      return usage.ocrPages ?? 0;
    default:
      return usage.requests ?? 1;
  }
}

function partRate(card: RateCard, part: number): RateCard['input'] | undefined {
  switch (part) {
    case 0:
      return card.input;
    case 1:
      return card.cacheRead ?? card.input;
    case 2:
      return card.cacheWrite ?? card.input;
    case 3:
      return card.output;
    case 4:
      return card.reasoning ?? card.output;
    case 5:
      return card.perPage;
    default:
      return card.perRequest;
  }
}

/**
 * The same exact total as the BigInt path, in safe-integer arithmetic (BigInt costs several µs per
 * call on the record path). Every rate is split into a*10^15 + c*10^7 + d (10^-24 USD units), so
 * count x part stays below 2^53 for realistic counts; `undefined` (use BigInt) when any product or
 * sum would not — never an approximation. Property-tested against the BigInt path.
 */
function costNanoSafeInteger(usage: UsageToPrice, card: RateCard): number | null | undefined {
  if (!hasCounts(usage)) return null;
  let A = 0;
  let C = 0;
  let D = 0;
  for (let i = 0; i < PARTS; i++) {
    const count = partCount(usage, i);
    if (count === 0) continue;
    const rate = partRate(card, i);
    if (rate === undefined) {
      if (i === REQUEST_PART) continue;
      return null;
    }
    let units = rateFor(rate, usage.inputTokens);
    if (i >= 5) units *= PER_UNIT_LIFT;
    const s = splitRate(units);
    if (s === null) return undefined;
    const pa = count * s.a;
    const pc = count * s.c;
    const pd = count * s.d;
    if (pa > MAX || pc > MAX || pd > MAX) return undefined;
    A += pa;
    C += pc;
    D += pd;
    if (A > MAX || C > MAX || D > MAX) return undefined;
  }
  // units = 10^15*A + 10^7*C + D; C = 10^8*C1 + C0, so units = 10^15*(A + C1) + (10^7*C0 + D).
  const [c1, c0] = divMod(C, 100_000_000);
  const rest = c0 * 10_000_000 + D;
  if (rest > MAX) return undefined;
  const [carry, rem] = divMod(rest, 1e15);
  let q = A + c1 + carry;
  const twice = rem * 2;
  if (twice > 1e15 || (twice === 1e15 && q % 2 === 1)) q += 1;
  return q > MAX ? undefined : q;
}

function sum(values: bigint[]): bigint {
  let total = 0n;
  for (const v of values) total += v;
  return total;
}

/** Each disjoint part's exact cost in 10^-24 USD; undefined when a used part has no price. */
function exactParts(usage: UsageToPrice, card: RateCard): bigint[] | undefined {
  if (!hasCounts(usage)) return undefined;
  const exact: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n];
  for (let i = 0; i < PARTS; i++) {
    const count = partCount(usage, i);
    if (count === 0) continue;
    const rate = partRate(card, i);
    if (rate === undefined) {
      if (i === REQUEST_PART) continue; // no per-request price: requests cost nothing extra
      return undefined;
    }
    let value = BigInt(count) * rateFor(rate, usage.inputTokens);
    if (i >= 5) value *= PER_UNIT_LIFT;
    exact[i] = value;
  }
  return exact;
}

function roundHalfEven(units: bigint): bigint {
  let q = units / UNIT_PER_NANO;
  const twice = (units % UNIT_PER_NANO) * 2n;
  if (twice > UNIT_PER_NANO || (twice === UNIT_PER_NANO && q % 2n === 1n)) q += 1n;
  return q;
}

/** Floors each part, then hands the rounding difference to the largest remainders (earliest part first on ties). */
function apportion(exact: bigint[], cost: bigint): PriceParts {
  const floors: number[] = [];
  let floorSum = 0n;
  for (const e of exact) {
    const f = e / UNIT_PER_NANO;
    floors.push(Number(f));
    floorSum += f;
  }
  let extra = Number(cost - floorSum);
  if (extra > 0) {
    const order = exact
      .map((e, i) => ({ i, rem: e % UNIT_PER_NANO }))
      .filter((x) => x.rem > 0n)
      .sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
    for (const { i } of order) {
      if (extra === 0) break;
      floors[i] = (floors[i] as number) + 1;
      extra--;
    }
  }
  const parts = {} as PriceParts;
  for (let i = 0; i < 7; i++) parts[PART_NAMES[i] as keyof PriceParts] = floors[i] as number;
  return parts;
}
