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
  const exact = exactParts(usage, card);
  return exact === undefined ? null : Number(roundHalfEven(sum(exact)));
}

function sum(values: bigint[]): bigint {
  let total = 0n;
  for (const v of values) total += v;
  return total;
}

/** Each disjoint part's exact cost in 10^-24 USD; undefined when a used part has no price. */
function exactParts(usage: UsageToPrice, card: RateCard): bigint[] | undefined {
  const { inputTokens, outputTokens, cacheReadInputTokens, cacheCreationInputTokens, reasoningOutputTokens } =
    usage;
  const pages = usage.ocrPages ?? 0;
  const requests = usage.requests ?? 1;
  if (
    !isCount(inputTokens) ||
    !isCount(outputTokens) ||
    !isCount(cacheReadInputTokens) ||
    !isCount(cacheCreationInputTokens) ||
    !isCount(reasoningOutputTokens) ||
    !isCount(pages) ||
    !isCount(requests)
  ) {
    return undefined;
  }
  const counts = [
    Math.max(0, inputTokens - cacheReadInputTokens - cacheCreationInputTokens),
    cacheReadInputTokens,
    cacheCreationInputTokens,
    Math.max(0, outputTokens - reasoningOutputTokens),
    reasoningOutputTokens,
    pages,
    requests,
  ];
  const rates = [
    card.input,
    card.cacheRead ?? card.input,
    card.cacheWrite ?? card.input,
    card.output,
    card.reasoning ?? card.output,
    card.perPage,
    card.perRequest,
  ];
  const exact: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n, 0n];
  for (let i = 0; i < 7; i++) {
    const count = counts[i] as number;
    if (count === 0) continue;
    const rate = rates[i];
    if (rate === undefined) {
      if (i === 6) continue; // no per-request price: requests cost nothing extra
      return undefined;
    }
    let value = BigInt(count) * rateFor(rate, inputTokens);
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
