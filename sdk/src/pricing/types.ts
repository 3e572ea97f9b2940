import type { TokenCounts, TokenType } from '../contract.js';

/** Usage of one call in the semconv sense: input includes cache tokens, output includes reasoning. */
export interface UsageToPrice extends TokenCounts {
  ocrPages?: number;
  embeddingInputs?: number;
  /** Requests in this usage; defaults to 1 (only matters for models with a per-request price). */
  requests?: number;
}

/** `provider` is a `gen_ai.provider.name` (openai, aws.bedrock, ...) or a genai-prices provider id. */
export interface ModelRef {
  provider: string;
  model: string;
  /** When the call happened; selects date- and time-of-day-dependent prices. Default: now. */
  at?: Date;
}

export type PriceParts = Record<TokenType, number> & { pages: number; requests: number };

export type UnpricedReason = 'unknown_provider' | 'unknown_model' | 'no_price_for_usage';

export type PriceResult =
  | {
      status: 'priced';
      /** Integer nano-USD, rounded once (half-even) from the exact sum. */
      costNanoUsd: number;
      /** Nano-USD per part; sums exactly to costNanoUsd. */
      parts: PriceParts;
      source: 'catalog' | 'override';
      providerId: string;
      modelId: string;
    }
  | { status: 'unpriced'; reason: UnpricedReason };

/** Unit prices as USD decimal strings (per million tokens, per page, per request). */
export interface UnitPrices {
  providerId: string;
  modelId: string;
  inputMtok: string;
  outputMtok: string;
  cacheReadMtok?: string;
  cacheWriteMtok?: string;
  reasoningMtok?: string;
  perPage?: string;
  perRequest?: string;
}

export interface Pricer {
  priceUsage(usage: UsageToPrice, ref: ModelRef): PriceResult;
  /** priceUsage's `costNanoUsd` alone (no parts: cheaper per call); null when unpriced. */
  costNanoUsd(usage: UsageToPrice, ref: ModelRef): number | null;
  unitPrices(ref: ModelRef): UnitPrices | undefined;
  listModels(provider: string, at?: Date): UnitPrices[];
}

/** A negotiated or custom price; USD decimal strings. Fields left out fall back to the catalog. */
export interface PriceOverride {
  provider: string;
  model: string;
  inputMtok?: string;
  outputMtok?: string;
  cacheReadMtok?: string;
  cacheWriteMtok?: string;
  reasoningMtok?: string;
  perPage?: string;
  perRequest?: string;
}
