import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeCost, computeCostNano } from '../src/pricing/computeCost.js';
import type { Rate, RateCard } from '../src/pricing/rates.js';

// Rates are 10^-18 USD per MTok (per page / request): from 0 to $100k/MTok with any of 18 decimals.
const rate = fc.oneof(
  fc.bigInt({ min: 0n, max: 100_000n * 10n ** 18n }),
  fc.bigInt({ min: 0n, max: 10n ** 17n }).map((x) => x * 10n), // realistic: few decimals
  fc.constantFrom(150_000_000_000_000_000n, 75_000_000_000_000_000n, 37_500_000_000_000_000n),
);
const tiered: fc.Arbitrary<Rate> = fc.oneof(
  rate,
  fc.record({
    base: fc.bigInt({ min: 0n, max: 10n ** 21n }),
    tiers: fc.array(
      fc.record({
        start: fc.integer({ min: 0, max: 1_000_000 }),
        price: fc.bigInt({ min: 0n, max: 10n ** 21n }),
      }),
      { maxLength: 2 },
    ),
  }),
);
const card: fc.Arbitrary<RateCard> = fc.record(
  {
    input: tiered,
    output: tiered,
    cacheRead: tiered,
    cacheWrite: tiered,
    reasoning: tiered,
    perPage: tiered,
    perRequest: tiered,
  },
  { requiredKeys: [] },
);
const count = fc.oneof(
  fc.integer({ min: 0, max: 2_000_000 }),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);
const usage = fc
  .record({
    input: count,
    cacheRead: count,
    cacheWrite: count,
    output: count,
    reasoning: count,
    pages: fc.integer({ min: 0, max: 10_000 }),
  })
  .map((u) => ({
    inputTokens:
      u.input + u.cacheRead + u.cacheWrite > Number.MAX_SAFE_INTEGER
        ? u.input
        : u.input + u.cacheRead + u.cacheWrite,
    cacheReadInputTokens: u.input + u.cacheRead + u.cacheWrite > Number.MAX_SAFE_INTEGER ? 0 : u.cacheRead,
    cacheCreationInputTokens:
      u.input + u.cacheRead + u.cacheWrite > Number.MAX_SAFE_INTEGER ? 0 : u.cacheWrite,
    outputTokens: Math.max(u.output, u.reasoning),
    reasoningOutputTokens: u.reasoning,
    ocrPages: u.pages,
  }));

const META = { source: 'catalog' as const, providerId: 'p', modelId: 'm' };

describe('computeCostNano (safe-integer path)', () => {
  it('equals the exact BigInt total for any rates and counts (or defers to it)', () => {
    fc.assert(
      fc.property(usage, card, (u, c) => {
        const reference = computeCost(u, c, META);
        const fast = computeCostNano(u, c);
        if (reference.status === 'unpriced') expect(fast).toBeNull();
        else expect(fast).toBe(reference.costNanoUsd);
      }),
      { numRuns: 20_000 },
    );
  });

  it('rounds half to even at the exact half nano-USD', () => {
    // 1 token at 0.5 nano-USD -> 0 (even); 3 tokens -> 1.5 -> 2 (even); 5 tokens -> 2.5 -> 2.
    const half: RateCard = { input: 500_000_000_000_000n, output: 0n };
    for (const [n, want] of [
      [1, 0],
      [3, 2],
      [5, 2],
      [7, 4],
    ] as const) {
      const u = {
        inputTokens: n,
        outputTokens: 0,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
        reasoningOutputTokens: 0,
      };
      expect(computeCostNano(u, half)).toBe(want);
      expect(computeCost(u, half, META)).toMatchObject({ costNanoUsd: want });
    }
  });
});
