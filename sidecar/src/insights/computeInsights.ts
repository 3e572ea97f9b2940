import { type Pricer, usdToNano } from '@spendline/sdk/core';
import type { LedgerQueries } from '../ledger/store.js';
import { DEFAULT_INSIGHT_OPTIONS, INSIGHT_KINDS, type Insight, type InsightOptions } from './types.js';

const DAY = 86400;
const CHAT_OPERATIONS = "('chat', 'text_completion', 'generate_content')";
/** Catalog models that are not general chat models: never proposed as a cheaper chat model. */
const NOT_CHAT =
  /(embed|tts|whisper|dall-e|image|audio|realtime|moderation|ocr|transcribe|search|computer-use|guard)/i;

interface TokenSums {
  requests: number;
  errors: number;
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
  /** The nano-USD sum, exact (a JS number would not be past 2^53). */
  costNano: bigint;
  unpricedRequests: number;
}

// Aliases are quoted: PostgreSQL folds unquoted names to lower case.
const SUMS = `SUM(requests) AS requests, SUM(errors) AS errors, SUM(input_tokens) AS input,
  SUM(cache_read_tokens) AS "cacheRead", SUM(cache_write_tokens) AS "cacheWrite", SUM(output_tokens) AS output,
  SUM(reasoning_tokens) AS reasoning, SUM(cost_nano_usd) AS "costNano", SUM(unpriced_requests) AS "unpricedRequests"`;

/** Token sums as numbers (far below 2^53 for any real window), the cost exact. */
function tokenSums<T extends Record<string, unknown>>(row: Record<string, unknown>): T & TokenSums {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row))
    out[k] = k === 'costNano' ? BigInt((v as bigint | null) ?? 0n) : typeof v === 'bigint' ? Number(v) : v;
  return out as T & TokenSums;
}

/** Rollup token partition back to semconv counts (input includes cache, output includes reasoning). */
function semconv(t: TokenSums) {
  return {
    inputTokens: t.input + t.cacheRead + t.cacheWrite,
    outputTokens: t.output + t.reasoning,
    cacheReadInputTokens: t.cacheRead,
    cacheCreationInputTokens: t.cacheWrite,
    reasoningOutputTokens: t.reasoning,
  };
}

const usd = (nano: bigint | number | string) => {
  const n = BigInt(nano);
  const neg = n < 0n;
  const a = neg ? -n : n;
  return `${neg ? '-' : ''}${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
};
const share = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 10000) / 10000 : 0);

export function utcDayStart(ms: number): number {
  return Math.floor(ms / 1000 / DAY) * DAY;
}

/**
 * The changes that would cut spend most, from the ledger's rollups over the last `daysBack` UTC days
 * (today included), priced with the catalog. Deterministic for the same ledger, options and `nowMs`;
 * sorted by monthly saving, unknown savings last.
 */
export async function computeInsights(
  db: LedgerQueries,
  pricer: Pricer,
  nowMs: number,
  overrides: Partial<InsightOptions> = {},
): Promise<Insight[]> {
  const o: InsightOptions = { ...DEFAULT_INSIGHT_OPTIONS, ...overrides };
  const to = utcDayStart(nowMs) + DAY;
  const from = to - o.daysBack * DAY;
  const prevFrom = from - o.daysBack * DAY;
  const monthly = (nano: bigint) => (nano * 30n) / BigInt(o.daysBack);
  const minSaving = BigInt(Math.round(o.minMonthlySavingUsd * 1e9));
  const insights: Insight[] = [];
  const window = { from, to };

  // Cheaper model candidates: small calls on an expensive model.
  const groups = (
    await db.all(
      `SELECT provider, model, service, feature, ${SUMS} FROM usage_rollup
       WHERE bucket_start >= @from AND bucket_start < @to AND operation IN ${CHAT_OPERATIONS}
       GROUP BY provider, model, service, feature ORDER BY provider, model, service, feature`,
      window,
      { bigint: true },
    )
  ).map((r) => tokenSums<{ provider: string; model: string; service: string; feature: string }>(r));
  for (const g of groups) {
    if (g.requests < o.cheaperMinRequests || g.unpricedRequests > 0) continue;
    const tokens = semconv(g);
    const avgIn = tokens.inputTokens / g.requests;
    const avgOut = tokens.outputTokens / g.requests;
    if (avgIn > o.cheaperMaxAvgInputTokens || avgOut > o.cheaperMaxAvgOutputTokens) continue;
    const current = pricer.priceUsage(tokens, { provider: g.provider, model: g.model });
    if (current.status !== 'priced') continue;
    const family = /^[a-z]+/i.exec(current.modelId)?.[0] ?? '';
    let best: { model: string; costNano: number } | undefined;
    for (const candidate of pricer.listModels(g.provider)) {
      if (candidate.modelId === current.modelId || NOT_CHAT.test(candidate.modelId)) continue;
      if ((/^[a-z]+/i.exec(candidate.modelId)?.[0] ?? '') !== family) continue;
      const priced = pricer.priceUsage(tokens, { provider: g.provider, model: candidate.modelId });
      if (priced.status !== 'priced') continue;
      if (
        best === undefined ||
        priced.costNanoUsd < best.costNano ||
        (priced.costNanoUsd === best.costNano && candidate.modelId < best.model)
      )
        best = { model: candidate.modelId, costNano: priced.costNanoUsd };
    }
    if (best === undefined || best.costNano >= current.costNanoUsd) continue;
    const saving = monthly(BigInt(current.costNanoUsd - best.costNano));
    if (saving < minSaving) continue;
    insights.push({
      kind: 'cheaper_model',
      scope: { provider: g.provider, model: g.model, service: g.service, feature: g.feature },
      evidence: {
        requests: g.requests,
        avg_input_tokens: Math.round(avgIn),
        avg_output_tokens: Math.round(avgOut),
        cost_usd: usd(current.costNanoUsd),
        candidate: best.model,
        candidate_cost_usd: usd(best.costNano),
        window_days: o.daysBack,
      },
      change: `Try ${best.model} for ${g.feature || 'these'} calls on ${g.service}: they are small (about ${Math.round(avgIn)} input / ${Math.round(avgOut)} output tokens). Validate quality on real traffic before switching.`,
      monthlySaving: { known: true, nanoUsd: saving },
    });
  }

  // Prompt caching: large input volume with a low cache-read share on models that price cache reads.
  const models = (
    await db.all(
      `SELECT provider, model, ${SUMS} FROM usage_rollup
       WHERE bucket_start >= @from AND bucket_start < @to AND operation IN ${CHAT_OPERATIONS}
       GROUP BY provider, model ORDER BY provider, model`,
      window,
      { bigint: true },
    )
  ).map((r) => tokenSums<{ provider: string; model: string }>(r));
  const repeatBp = BigInt(Math.round(o.cachingAssumedRepeatShare * 10000));
  for (const m of models) {
    const totalInput = m.input + m.cacheRead + m.cacheWrite;
    if (totalInput < o.cachingMinInputTokens) continue;
    const readShare = m.cacheRead / totalInput;
    if (readShare >= o.cachingMaxCacheReadShare) continue;
    const prices = pricer.unitPrices({ provider: m.provider, model: m.model });
    if (prices?.cacheReadMtok === undefined) continue;
    const inRate = usdToNano(prices.inputMtok);
    const readRate = usdToNano(prices.cacheReadMtok);
    if (!inRate.ok || !readRate.ok || readRate.nano >= inRate.nano) continue;
    // nano-USD per million tokens × tokens × repeat share (basis points).
    const saving = monthly(
      (BigInt(m.input) * BigInt(inRate.nano - readRate.nano) * repeatBp) / (1_000_000n * 10_000n),
    );
    if (saving < minSaving) continue;
    insights.push({
      kind: 'prompt_caching',
      scope: { provider: m.provider, model: m.model },
      evidence: {
        input_tokens: totalInput,
        uncached_input_tokens: m.input,
        cache_read_share: share(m.cacheRead, totalInput),
        input_usd_per_mtok: prices.inputMtok,
        cache_read_usd_per_mtok: prices.cacheReadMtok,
        assumed_repeating_share_of_uncached_input: o.cachingAssumedRepeatShare,
        window_days: o.daysBack,
      },
      change: `Put stable instructions and context first and enable prompt caching for ${m.model}: only ${(readShare * 100).toFixed(1)}% of its input is read from cache. Saving assumes ${Math.round(o.cachingAssumedRepeatShare * 100)}% of uncached input repeats (cache writes, where billed, are not netted out).`,
      monthlySaving: { known: true, nanoUsd: saving },
    });
  }

  // Waste and data quality.
  const byService = (
    await db.all(
      `SELECT provider, model, service, usage_type AS "usageType", ${SUMS} FROM usage_rollup
       WHERE bucket_start >= @from AND bucket_start < @to
       GROUP BY provider, model, service, usage_type ORDER BY provider, model, service, usage_type`,
      window,
      { bigint: true },
    )
  ).map((r) => tokenSums<{ provider: string; model: string; service: string; usageType: string }>(r));
  for (const s of byService) {
    const scope = { provider: s.provider, model: s.model, service: s.service };
    if (s.errors > 0) {
      insights.push({
        kind: 'failed_calls',
        scope,
        evidence: {
          failed_calls: s.errors,
          requests: s.requests,
          error_share: share(s.errors, s.requests),
          group_cost_usd: usd(s.costNano),
        },
        change: `Find why ${s.errors} of ${s.requests} calls to ${s.model} from ${s.service} failed (errors by type on the status page, error.type on the spans, or the errors-by-type query in OpenSearch): failed calls that consumed tokens are billed, and retries bill again.`,
        monthlySaving: {
          known: false,
          reason:
            'the ledger keeps cost per group, not per status, and retries are not marked in usage records',
        },
      });
    }
    if ((s.usageType === 'estimated' || s.usageType === 'total_only') && s.requests > 0) {
      insights.push({
        kind: 'estimated_usage',
        scope,
        evidence: { estimated_requests: s.requests, estimated_cost_usd: usd(s.costNano) },
        change: `Make ${s.service} report exact usage for ${s.model}: streams need stream_options.include_usage (the SDK adds it) and must be read to the end.`,
        monthlySaving: { known: false, reason: 'a data-quality fix: tokens were estimated with a tokenizer' },
      });
    }
    // Failed calls without usage are expected (a 429 is not billed); successful ones are a data gap.
    if (s.usageType === 'unknown' && s.requests > s.errors) {
      insights.push({
        kind: 'unknown_usage',
        scope,
        evidence: { unknown_usage_requests: s.requests - s.errors, failed_without_usage: s.errors },
        change: `Make ${s.service} report usage for ${s.model}: ${s.requests - s.errors} successful calls arrived without token counts, so their cost is missing. Streams need stream_options.include_usage, and some instrumentations drop stream or embeddings usage (docs/emitters.md); the spendline SDK records both.`,
        monthlySaving: {
          known: false,
          reason: 'a data-quality fix: the calls were counted, their usage is unknown',
        },
      });
    }
    if (s.unpricedRequests > 0) {
      insights.push({
        kind: 'unpriced_model',
        scope,
        evidence: { unpriced_requests: s.unpricedRequests },
        change: `Add a price for ${s.provider}/${s.model} with --prices: its calls are counted but their cost is unknown.`,
        monthlySaving: { known: false, reason: 'the model has no price in the catalog or the override file' },
      });
    }
  }

  insights.push(...(await growth(db, o, { from, to, prevFrom })));
  insights.push(...(await spikeDays(db, o, from, to)));
  return sortInsights(insights);
}

async function growth(
  db: LedgerQueries,
  o: InsightOptions,
  w: { from: number; to: number; prevFrom: number },
): Promise<Insight[]> {
  const out: Insight[] = [];
  const dims: [keyof Insight['scope'], string][] = [
    [
      'feature',
      `SELECT feature AS k, SUM(CASE WHEN bucket_start >= @from THEN cost_nano_usd ELSE 0 END) AS cur,
       SUM(CASE WHEN bucket_start < @from THEN cost_nano_usd ELSE 0 END) AS prev FROM usage_rollup
       WHERE bucket_start >= @prevFrom AND bucket_start < @to GROUP BY feature`,
    ],
    [
      'tenant',
      `SELECT tenant_id AS k, SUM(CASE WHEN bucket_start >= @from THEN cost_nano_usd ELSE 0 END) AS cur,
       SUM(CASE WHEN bucket_start < @from THEN cost_nano_usd ELSE 0 END) AS prev FROM usage_rollup
       WHERE bucket_start >= @prevFrom AND bucket_start < @to GROUP BY tenant_id`,
    ],
    [
      'user',
      `SELECT principal_id AS k, SUM(CASE WHEN bucket_start >= @from THEN cost_nano_usd ELSE 0 END) AS cur,
       SUM(CASE WHEN bucket_start < @from THEN cost_nano_usd ELSE 0 END) AS prev FROM usage_rollup_principal
       WHERE principal_kind = 'user' AND bucket_start >= @prevFrom AND bucket_start < @to GROUP BY principal_id`,
    ],
  ];
  const minIncrease = BigInt(Math.round(o.growthMinIncreaseUsd * 1e9));
  // The ratio compares at float precision: only money itself must be exact.
  const ratio = (r: { cur: bigint; prev: bigint }) => Number(r.cur) / Number(r.prev);
  for (const [dim, sql] of dims) {
    const rows = (await db.all<{ k: string; cur: bigint; prev: bigint }>(sql, w, { bigint: true }))
      .map((r) => ({ k: r.k, cur: BigInt(r.cur ?? 0n), prev: BigInt(r.prev ?? 0n) }))
      .filter(
        (r) => r.k !== '' && r.cur - r.prev >= minIncrease && (r.prev === 0n || ratio(r) >= o.growthMinRatio),
      )
      .sort((a, b) => {
        const by = b.cur - b.prev - (a.cur - a.prev);
        return by !== 0n ? (by > 0n ? 1 : -1) : a.k < b.k ? -1 : 1;
      })
      .slice(0, o.growthTop);
    for (const r of rows)
      out.push({
        kind: 'spend_growth',
        scope: { [dim]: r.k },
        evidence: {
          cost_usd: usd(r.cur),
          previous_period_cost_usd: usd(r.prev),
          increase_usd: usd(r.cur - r.prev),
          growth: r.prev > 0n ? `${ratio(r).toFixed(2)}x` : 'new',
          window_days: o.daysBack,
        },
        change: `Check whether the growth of ${dim} ${r.k} is expected (new traffic, a loop, a prompt that grew); set a budget for it (--budgets) if it should be bounded.`,
        monthlySaving: { known: false, reason: 'growth is a signal to check, not a priced change' },
      });
  }
  return out;
}

/** Days whose spend exceeds median + k·MAD of daily spend since the first day with spend (needs 7+ days with spend). */
async function spikeDays(db: LedgerQueries, o: InsightOptions, from: number, to: number): Promise<Insight[]> {
  const rows = (
    await db.all<{ day: bigint; cost: bigint | null }>(
      `SELECT (bucket_start / ${DAY}) * ${DAY} AS day, SUM(cost_nano_usd) AS cost FROM usage_rollup
       WHERE bucket_start >= ? AND bucket_start < ? GROUP BY (bucket_start / ${DAY}) * ${DAY}`,
      [from, to],
      { bigint: true },
    )
  ).map((r) => ({ day: Number(r.day), cost: BigInt(r.cost ?? 0n) }));
  const byDay = new Map(rows.map((r) => [r.day, r.cost]));
  // From the first day with spend: days before a service launched are not "normal" zero-spend days.
  const first = Math.min(...rows.filter((r) => r.cost > 0n).map((r) => r.day));
  if (!Number.isFinite(first)) return [];
  const start = first;
  const exact: bigint[] = [];
  for (let d = start; d < to; d += DAY) exact.push(byDay.get(d) ?? 0n);
  if (exact.filter((c) => c > 0n).length < 7) return [];
  // The median and MAD are statistics (float); the day's cost shown is exact.
  const costs = exact.map(Number);
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const mid = s.length >> 1;
    return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
  };
  const med = median(costs);
  const mad = median(costs.map((c) => Math.abs(c - med)));
  const threshold = med + o.spikeK * mad;
  const out: Insight[] = [];
  costs.forEach((cost, i) => {
    if (cost <= threshold) return;
    const day = new Date((start + i * DAY) * 1000).toISOString().slice(0, 10);
    out.push({
      kind: 'spend_spike_day',
      scope: { day },
      evidence: {
        cost_usd: usd(exact[i] ?? 0n),
        median_daily_cost_usd: usd(Math.round(med)),
        mad_usd: usd(Math.round(mad)),
        threshold_usd: usd(Math.round(threshold)),
        k: o.spikeK,
      },
      change: `Look at what ran on ${day} (spendline report --by model/--by feature for that day): spend was beyond median + ${o.spikeK}·MAD.`,
      monthlySaving: { known: false, reason: 'a one-day spike is a signal to check, not a priced change' },
    });
  });
  return out;
}

export function sortInsights(list: Insight[]): Insight[] {
  const kindOrder = (k: Insight['kind']) => INSIGHT_KINDS.indexOf(k);
  const scopeKey = (i: Insight) => JSON.stringify(Object.entries(i.scope).sort());
  return [...list].sort((a, b) => {
    if (a.monthlySaving.known && b.monthlySaving.known) {
      if (a.monthlySaving.nanoUsd !== b.monthlySaving.nanoUsd)
        return a.monthlySaving.nanoUsd > b.monthlySaving.nanoUsd ? -1 : 1;
    } else if (a.monthlySaving.known !== b.monthlySaving.known) return a.monthlySaving.known ? -1 : 1;
    return (
      kindOrder(a.kind) - kindOrder(b.kind) ||
      (scopeKey(a) < scopeKey(b) ? -1 : scopeKey(a) > scopeKey(b) ? 1 : 0)
    );
  });
}
