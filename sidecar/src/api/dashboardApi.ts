import type { Request, Response, Router } from 'express';
import type { Budget } from '../budgets/budgetFile.js';
import { budgetStatus, isPerValueBudget } from '../budgets/budgetSpend.js';
import { LATENCY_COUNT_COLUMNS } from '../ledger/migrations.js';
import type { LedgerStore } from '../ledger/store.js';
import { DURATION_BUCKETS, TTFT_BUCKETS } from '../metrics.js';
import { usdDecimal } from '../report/money.js';
import { parseRange, readQuery } from './usageParams.js';

const QUANTILES = [50, 90, 99] as const;

/**
 * A quantile of a histogram (non-cumulative `counts`, the last being +Inf) in ms, interpolated
 * linearly inside its bucket as Prometheus' histogram_quantile does; `{ over_ms }` when it falls in
 * the open +Inf bucket; null without observations.
 */
export function histogramQuantileMs(
  bounds: readonly number[],
  counts: readonly number[],
  q: number,
): number | { over_ms: number } | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    if (n > 0 && below + n >= rank) {
      if (i >= bounds.length) return { over_ms: Math.round((bounds[bounds.length - 1] as number) * 1000) };
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return Math.round((lower + ((upper - lower) * (rank - below)) / n) * 1000 * 10) / 10;
    }
    below += n;
  }
  return null;
}

/**
 * Routes the status page needs beyond /usage (docs/api.md): latency percentiles and errors by type
 * over a time range, unpriced and usage-unknown calls by model, and every budget with its spend.
 */
export function mountDashboardApi(
  router: Router,
  db: LedgerStore,
  now: () => number,
  budgets: Budget[] | undefined,
): void {
  /** The request's `from`/`to` range; undefined after answering 400 when they are bad. */
  const rangeOf = (req: Request, res: Response) => {
    const q = readQuery(req, ['from', 'to']);
    const range = q.ok ? parseRange(q.value, now()) : q;
    if (range.ok) return range;
    res.status(400).json({ error: 'bad_request', message: range.reason });
    return undefined;
  };

  router.get('/latency', async (req, res) => {
    const range = rangeOf(req, res);
    if (range === undefined) return;
    const rows = await db.all<
      { provider: string; model: string; metric: 'duration' | 'ttft' } & Record<string, number>
    >(
      `SELECT provider, model, metric, ${LATENCY_COUNT_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', ')}
       FROM latency_rollup WHERE bucket_start >= ? AND bucket_start < ? GROUP BY provider, model, metric`,
      [range.value.fromSec, range.value.toSec],
    );
    const byModel = new Map<
      string,
      { provider: string; model: string; duration: number[]; ttft: number[] }
    >();
    for (const r of rows) {
      const k = `${r.provider}\u0001${r.model}`;
      let m = byModel.get(k);
      if (m === undefined) {
        m = {
          provider: r.provider,
          model: r.model,
          duration: new Array<number>(DURATION_BUCKETS.length + 1).fill(0),
          ttft: new Array<number>(TTFT_BUCKETS.length + 1).fill(0),
        };
        byModel.set(k, m);
      }
      const counts = m[r.metric];
      for (let i = 0; i < counts.length; i++) counts[i] = r[`c${i}`] ?? 0;
    }
    const summary = (bounds: readonly number[], counts: number[]) => {
      const out: Record<string, unknown> = { count: counts.reduce((a, b) => a + b, 0) };
      for (const p of QUANTILES) out[`p${p}_ms`] = histogramQuantileMs(bounds, counts, p / 100);
      return out;
    };
    res.json({
      from: new Date(range.value.fromSec * 1000).toISOString(),
      to: new Date(range.value.toSec * 1000).toISOString(),
      rows: [...byModel.values()]
        .map((m) => ({
          provider: m.provider,
          model: m.model,
          duration: summary(DURATION_BUCKETS, m.duration),
          ttft: summary(TTFT_BUCKETS, m.ttft),
        }))
        .sort(
          (a, b) =>
            (b.duration.count as number) - (a.duration.count as number) || a.model.localeCompare(b.model),
        ),
    });
  });

  router.get('/errors', async (req, res) => {
    const range = rangeOf(req, res);
    if (range === undefined) return;
    const rows = await db.all<{ error_type: string; provider: string; model: string; requests: number }>(
      `SELECT error_type, provider, model, SUM(requests) AS requests FROM error_rollup
       WHERE bucket_start >= ? AND bucket_start < ? GROUP BY error_type, provider, model
       ORDER BY SUM(requests) DESC, error_type, model, provider`,
      [range.value.fromSec, range.value.toSec],
    );
    res.json({
      from: new Date(range.value.fromSec * 1000).toISOString(),
      to: new Date(range.value.toSec * 1000).toISOString(),
      errors: rows.reduce((a, r) => a + r.requests, 0),
      rows,
    });
  });

  router.get('/usage/quality', async (req, res) => {
    const range = rangeOf(req, res);
    if (range === undefined) return;
    const unknown = "SUM(CASE WHEN usage_type = 'unknown' THEN requests ELSE 0 END)";
    const rows = await db.all(
      `SELECT provider, model, SUM(requests) AS requests, SUM(unpriced_requests) AS unpriced_requests,
         SUM(unpriced_tokens) AS unpriced_tokens, ${unknown} AS unknown_usage_requests
       FROM usage_rollup WHERE bucket_start >= ? AND bucket_start < ?
       GROUP BY provider, model
       HAVING SUM(unpriced_requests) > 0 OR ${unknown} > 0
       ORDER BY SUM(unpriced_requests) + ${unknown} DESC, model, provider`,
      [range.value.fromSec, range.value.toSec],
    );
    res.json({
      from: new Date(range.value.fromSec * 1000).toISOString(),
      to: new Date(range.value.toSec * 1000).toISOString(),
      rows,
    });
  });

  router.get('/budgets', async (req, res) => {
    const q = readQuery(req, []);
    if (!q.ok) {
      res.status(400).json({ error: 'bad_request', message: q.reason });
      return;
    }
    if (budgets === undefined) {
      res.json({ configured: false, budgets: [] });
      return;
    }
    const t = now();
    res.json({
      configured: true,
      budgets: await Promise.all(
        budgets.map(async (b) => {
          const base = {
            budget: b.name,
            period: b.period,
            scope: b.scope,
            limit_usd: usdDecimal(b.limitNano),
          };
          // A per-value budget ({user: "*"}) has one limit per user: ask /budgets/check for a value.
          if (isPerValueBudget(b)) return { ...base, per_value: true, spent_usd: null, status: null };
          const s = await budgetStatus(db, b, t);
          return {
            ...base,
            per_value: false,
            period_start: new Date(s.window.startSec * 1000).toISOString(),
            period_end: new Date(s.window.endSec * 1000).toISOString(),
            spent_usd: usdDecimal(s.spentNano),
            remaining_usd: usdDecimal(s.remainingNano),
            status: s.exceeded ? 'exceeded' : 'within',
            unpriced_requests: s.unpricedRequests,
          };
        }),
      ),
    });
  });
}
