import type { TokenCounts } from '../contract.js';
import { nanoToUsd, usdToNano } from '../money.js';

/** Costs below this (one million USD) are well inside nano-USD's safe-integer range. */
const UNCHECKED_NANO = 1e15;

import { createPricer, type PriceOverride, type Pricer } from '../pricing/index.js';

/** Usage as handed to the pricing module. */
export interface PricedUsage extends TokenCounts {
  ocrPages?: number;
  embeddingInputs?: number;
}

/** Returns the call's cost in USD when the model is priced, `undefined` otherwise (never 0 for unpriced). */
export type UsagePricer = (
  usage: PricedUsage,
  provider: string,
  model: string,
  at: Date | undefined,
) => number | undefined;

/**
 * The SDK's own price of a call (the sidecar stays the pricing authority for metrics). Bad
 * overrides are reported through `onProblem` and the bundled catalog is used instead.
 */
export function createUsagePricer(
  overrides: PriceOverride[] | string | undefined,
  onProblem: (message: string) => void,
): UsagePricer {
  let pricer: Pricer;
  try {
    pricer = createPricer(overrides === undefined ? undefined : { overrides });
  } catch (err) {
    onProblem(
      `@spendline/sdk: ignoring price overrides (${err instanceof Error ? err.message : String(err)}); using the bundled catalog.`,
    );
    pricer = createPricer();
  }
  // The total alone (no per-part apportioning): the record carries one cost figure.
  return (usage, provider, model, at) => {
    const nano = pricer.costNanoUsd(usage, at ? { provider, model, at } : { provider, model });
    if (nano === null) return undefined;
    const usd = nanoToUsd(nano);
    // Past nano-USD's safe range (about 9 million USD, only from absurd counts) the sidecar would refuse
    // the whole record for its cost: the call is recorded without the SDK's price instead.
    return nano < UNCHECKED_NANO || usdToNano(usd).ok ? usd : undefined;
  };
}
