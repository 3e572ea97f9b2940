import type { TokenCounts } from '../contract.js';
import { nanoToUsd } from '../money.js';
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
    return nano === null ? undefined : nanoToUsd(nano);
  };
}
