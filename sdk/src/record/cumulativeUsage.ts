import type { TokenCounts } from '../contract.js';
import { activeRuntime } from '../telemetry/runtime.js';
import { type RecordResult, recordLLMUsage } from './manualUsage.js';
import { isReason, type TokenInput, tokenCounts } from './validate.js';

/** Running totals per model, as frameworks report them. */
export type CumulativeSnapshot = Record<string, TokenInput>;

/** A total that went backwards: reported, never emitted (the baseline is kept, so nothing is counted twice). */
export interface CumulativeRegression {
  model: string;
  field: keyof TokenCounts;
  previous: number;
  current: number;
}

export interface CumulativeObservation {
  /** One manual record per model whose totals grew. */
  emitted: RecordResult[];
  regressions: CumulativeRegression[];
  /** Models whose entry failed validation (reason per model). */
  invalid: { model: string; reason: string }[];
}

export interface CumulativeUsageTrackerOptions {
  /** `gen_ai.provider.name` of the emitted records. */
  provider: string;
  /** Operation of the emitted records (default `chat`). */
  operation?: 'chat' | 'text_completion' | 'generate_content';
}

export interface CumulativeUsageTracker {
  /** Feeds a snapshot of running totals; emits only what grew since the last snapshot. */
  observe(snapshot: CumulativeSnapshot): CumulativeObservation;
  /**
   * Feeds an AG2 (autogen) usage summary — `{ usage_including_cached_inference, usage_excluding_cached_inference }`
   * or one of them directly — in `actual` (excluding cached inference) or `total` (including) mode.
   */
  observeAG2Summary(summary: unknown, mode: 'actual' | 'total'): CumulativeObservation;
  /** Totals accounted for so far, per model. */
  totals(): Record<string, TokenCounts>;
}

const FIELDS: (keyof TokenCounts)[] = [
  'inputTokens',
  'outputTokens',
  'cacheReadInputTokens',
  'cacheCreationInputTokens',
  'reasoningOutputTokens',
];

const ZERO: TokenCounts = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  reasoningOutputTokens: 0,
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns an AG2 usage summary into a per-model snapshot (`total_cost` and non-model keys are ignored). */
export function snapshotFromAG2Summary(summary: unknown, mode: 'actual' | 'total'): CumulativeSnapshot {
  const key = mode === 'actual' ? 'usage_excluding_cached_inference' : 'usage_including_cached_inference';
  const body = isRecord(summary) && isRecord(summary[key]) ? summary[key] : summary;
  const out: CumulativeSnapshot = {};
  if (!isRecord(body)) return out;
  for (const [model, entry] of Object.entries(body)) {
    if (model === 'total_cost' || !isRecord(entry)) continue;
    out[model] = {
      inputTokens: entry.prompt_tokens as number,
      outputTokens: entry.completion_tokens as number,
    };
  }
  return out;
}

/**
 * Converts running totals into per-call-style deltas. Repeating a total (e.g. a final summary after
 * incremental ones) emits nothing; a total that shrinks is reported as a regression, not emitted.
 */
export function createCumulativeUsageTracker(options: CumulativeUsageTrackerOptions): CumulativeUsageTracker {
  const seen = new Map<string, TokenCounts>();

  const observe = (snapshot: CumulativeSnapshot): CumulativeObservation => {
    const result: CumulativeObservation = { emitted: [], regressions: [], invalid: [] };
    if (!isRecord(snapshot)) return result;
    for (const [model, raw] of Object.entries(snapshot)) {
      const parsed = tokenCounts(isRecord(raw) ? raw : {}, true);
      if (isReason(parsed)) {
        result.invalid.push({ model, reason: parsed.reason });
        activeRuntime()?.stats.reject(parsed.reason);
        continue;
      }
      const prev = seen.get(model) ?? ZERO;
      const regressions = FIELDS.filter((f) => parsed[f] < prev[f]).map((field) => ({
        model,
        field,
        previous: prev[field],
        current: parsed[field],
      }));
      if (regressions.length > 0) {
        result.regressions.push(...regressions);
        activeRuntime()?.stats.reject('cumulative_total_went_backwards');
        continue;
      }
      const delta = {} as TokenCounts;
      for (const f of FIELDS) delta[f] = parsed[f] - prev[f];
      if (FIELDS.every((f) => delta[f] === 0)) continue;
      seen.set(model, parsed);
      result.emitted.push(
        recordLLMUsage({
          provider: options.provider,
          model,
          operation: options.operation ?? 'chat',
          ...delta,
        }),
      );
    }
    return result;
  };

  return {
    observe,
    observeAG2Summary: (summary, mode) => observe(snapshotFromAG2Summary(summary, mode)),
    totals: () => Object.fromEntries([...seen].map(([m, t]) => [m, { ...t }])),
  };
}
