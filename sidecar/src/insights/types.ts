export const INSIGHT_KINDS = [
  'cheaper_model',
  'prompt_caching',
  'failed_calls',
  'estimated_usage',
  'unknown_usage',
  'unpriced_model',
  'spend_growth',
  'spend_spike_day',
] as const;
export type InsightKind = (typeof INSIGHT_KINDS)[number];

export interface InsightScope {
  provider?: string;
  model?: string;
  service?: string;
  feature?: string;
  tenant?: string;
  user?: string;
  day?: string;
}

export type MonthlySaving = { known: true; nanoUsd: bigint } | { known: false; reason: string };

export interface Insight {
  kind: InsightKind;
  scope: InsightScope;
  /** The numbers the insight rests on (exact decimal USD strings, counts, shares). */
  evidence: Record<string, string | number>;
  /** The change to make. */
  change: string;
  /** Estimated saving per 30 days, from the window's usage scaled to 30 days. */
  monthlySaving: MonthlySaving;
}

/** Thresholds; every one has a default (docs/insights.md). */
export interface InsightOptions {
  /** Days of usage examined (ending now). */
  daysBack: number;
  /** cheaper_model: only groups with at least this many calls… */
  cheaperMinRequests: number;
  /** …whose average input (all input tokens) per call is at most this… */
  cheaperMaxAvgInputTokens: number;
  /** …and average output per call at most this. */
  cheaperMaxAvgOutputTokens: number;
  /** prompt_caching: at least this many input tokens in the window on one model… */
  cachingMinInputTokens: number;
  /** …with a cache-read share of input below this… */
  cachingMaxCacheReadShare: number;
  /** …of which this share of uncached input is assumed to repeat (a stable prompt prefix). */
  cachingAssumedRepeatShare: number;
  /** Insights with a known saving below this (USD per 30 days) are not listed. */
  minMonthlySavingUsd: number;
  /** spend_growth: spend must grow by at least this many USD against the previous period… */
  growthMinIncreaseUsd: number;
  /** …and by this factor. */
  growthMinRatio: number;
  /** spend_growth: list at most this many per dimension. */
  growthTop: number;
  /** spend_spike_day: a day spikes when its spend > median + k·MAD of the window's days. */
  spikeK: number;
}

export const DEFAULT_INSIGHT_OPTIONS: InsightOptions = {
  daysBack: 30,
  cheaperMinRequests: 50,
  cheaperMaxAvgInputTokens: 2000,
  cheaperMaxAvgOutputTokens: 500,
  cachingMinInputTokens: 1_000_000,
  cachingMaxCacheReadShare: 0.2,
  cachingAssumedRepeatShare: 0.5,
  minMonthlySavingUsd: 0.01,
  growthMinIncreaseUsd: 1,
  growthMinRatio: 1.5,
  growthTop: 5,
  spikeK: 3,
};
