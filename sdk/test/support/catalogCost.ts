import { createPricer, nanoToUsd } from '../../src/index.js';

/** The catalog's price in USD (as the SDK attaches `spendline.cost.usd`) of a call without cache or reasoning tokens. */
export function catalogCostUsd(
  provider: string,
  model: string,
  inputTokens: number,
  outputTokens: number,
): number {
  const p = createPricer().priceUsage(
    {
      inputTokens,
      outputTokens,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      reasoningOutputTokens: 0,
    },
    { provider, model },
  );
  if (p.status !== 'priced') throw new Error(`${provider}/${model} is not in the catalog`);
  return nanoToUsd(p.costNanoUsd);
}
