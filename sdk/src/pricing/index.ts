import { createPricer } from './pricer.js';
import type { ModelRef, PriceResult, Pricer, UsageToPrice } from './types.js';

export { loadPriceOverrides } from './overrides.js';
export { createPricer } from './pricer.js';
export { SEMCONV_PROVIDER_TO_CATALOG } from './providers.js';
export { resolveProviderName } from './resolveProvider.js';
export type {
  ModelRef,
  PriceOverride,
  PriceParts,
  PriceResult,
  Pricer,
  UnitPrices,
  UnpricedReason,
  UsageToPrice,
} from './types.js';

let defaultPricer: Pricer | undefined;

/** Prices one call with the bundled genai-prices catalog (no overrides); built on first use. */
export function priceUsage(usage: UsageToPrice, ref: ModelRef): PriceResult {
  defaultPricer ??= createPricer();
  return defaultPricer.priceUsage(usage, ref);
}
