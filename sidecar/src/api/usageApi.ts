import { type Request, type Response, Router } from 'express';
import type { Budget } from '../budgets/budgetFile.js';
import type { LedgerStore } from '../ledger/store.js';
import { buildReconciliationReport, reportToJson } from '../reconcile/dailyReport.js';
import { lastDays } from '../reconcile/reconcileDays.js';
import { parseTolerancePct } from '../reconcile/tolerance.js';
import { toCsv } from '../report/csv.js';
import { totalsToJson, usageToCsv } from '../report/formatUsage.js';
import {
  FILTERS,
  GROUP_BY,
  type GroupBy,
  NOT_PER_PRINCIPAL,
  queryUsage,
  type UsageFilters,
} from '../report/queryUsage.js';
import { budgetCheckHandler } from './budgetCheck.js';
import { mountDashboardApi } from './dashboardApi.js';
import { oneOf, type ParamResult, parseRange, plainText, readQuery } from './usageParams.js';

export interface UsageApiOptions {
  /** Budgets from `--budgets`; `/budgets/check` answers `configured: false` without them. */
  budgets?: Budget[];
  /** Tolerance (%) used to flag days in `/reconciliation` (default 5). */
  tolerancePct?: number;
}

const FORMATS = ['json', 'csv'] as const;

export function badRequest(res: Response, reason: string): void {
  res.status(400).json({ error: 'bad_request', message: reason });
}

function unwrap<T>(res: Response, r: ParamResult<T>): T | undefined {
  if (r.ok) return r.value;
  badRequest(res, r.reason);
  return undefined;
}

/**
 * The usage API (mount behind `requireApiToken`): usage from the ledger's rollups, the daily
 * reconciliation and budget checks. Money is exact decimal USD strings; `?format=csv` for finance tools.
 */
export function createUsageApi(
  db: LedgerStore,
  now: () => number = Date.now,
  options: UsageApiOptions = {},
): Router {
  const router = Router();

  /** /usage and the per-principal shortcuts share one handler; `fixed` pins a filter from the path. */
  const usage =
    (fixed: UsageFilters, extraGroupBys: readonly GroupBy[] = GROUP_BY) =>
    async (req: Request, res: Response) => {
      const allowedFilters = FILTERS.filter((f) => fixed[f] === undefined);
      const q = unwrap(
        res,
        readQuery(req, ['from', 'to', 'group_by', 'format', 'limit', 'search', ...allowedFilters]),
      );
      if (q === undefined) return;
      const range = unwrap(res, parseRange(q, now()));
      if (range === undefined) return;
      const groupBy = unwrap(res, oneOf('group_by', q.group_by, extraGroupBys));
      if (groupBy === undefined && q.group_by !== undefined) return;
      const format = unwrap(res, oneOf('format', q.format, FORMATS));
      if (format === undefined && q.format !== undefined) return;
      const filters: UsageFilters = { ...fixed };
      for (const f of allowedFilters) if (q[f] !== undefined) filters[f] = q[f];
      if (q.limit !== undefined && !/^[1-9]\d{0,6}$/.test(q.limit)) {
        badRequest(res, `"limit" must be an integer 1..9999999; got ${JSON.stringify(q.limit)}`);
        return;
      }
      const limit = q.limit === undefined ? undefined : Number(q.limit);
      const result = await queryUsage(db, { ...range, groupBy, filters, limit, search: q.search });
      if (!result.ok) {
        badRequest(res, result.reason);
        return;
      }
      if (format === 'csv') {
        const rows = groupBy === undefined ? [{ ...result.totals, key: 'all' }] : result.rows;
        res
          .type('text/csv')
          .attachment(`spendline-usage-${groupBy ?? 'total'}.csv`)
          .send(usageToCsv(groupBy ?? 'scope', rows));
        return;
      }
      res.json({
        from: new Date(range.fromSec * 1000).toISOString(),
        to: new Date(range.toSec * 1000).toISOString(),
        group_by: groupBy ?? null,
        filters,
        totals: totalsToJson(result.totals),
        group_count: groupBy === undefined ? null : result.groupCount,
        rows: groupBy === undefined ? [] : result.rows.map((r) => ({ [groupBy]: r.key, ...totalsToJson(r) })),
      });
    };

  router.get('/usage', usage({}));
  router.get('/usage/overall', async (req, res) => {
    const q = unwrap(res, readQuery(req, ['from', 'to', 'format']));
    if (q === undefined) return;
    const range = unwrap(res, parseRange(q, now()));
    if (range === undefined) return;
    const byProvider = await queryUsage(db, { ...range, groupBy: 'provider' });
    const byDay = await queryUsage(db, { ...range, groupBy: 'day' });
    if (!byProvider.ok || !byDay.ok) throw new Error('overall usage query failed');
    if (q.format === 'csv') {
      res
        .type('text/csv')
        .attachment('spendline-usage-overall.csv')
        .send(usageToCsv('provider', byProvider.rows));
      return;
    }
    if (q.format !== undefined && q.format !== 'json') {
      badRequest(res, `"format" must be one of json, csv; got ${JSON.stringify(q.format)}`);
      return;
    }
    res.json({
      from: new Date(range.fromSec * 1000).toISOString(),
      to: new Date(range.toSec * 1000).toISOString(),
      totals: totalsToJson(byProvider.totals),
      by_provider: byProvider.rows.map((r) => ({ provider: r.key, ...totalsToJson(r) })),
      by_day: byDay.rows.map((r) => ({ day: r.key, ...totalsToJson(r) })),
    });
  });
  const principalGroupBys = GROUP_BY.filter(
    (g) => g !== 'user' && g !== 'task' && !NOT_PER_PRINCIPAL.includes(g),
  );
  const principal = (dimension: 'user' | 'task') => async (req: Request, res: Response) => {
    const id = unwrap(res, plainText(`the ${dimension} id`, String(req.params.id)));
    if (id === undefined) return;
    await usage({ [dimension]: id }, principalGroupBys)(req, res);
  };
  router.get('/usage/users/:id', principal('user'));
  router.get('/usage/tasks/:id', principal('task'));

  router.get('/reconciliation', async (req, res) => {
    const q = unwrap(res, readQuery(req, ['days', 'tolerance', 'format']));
    if (q === undefined) return;
    const days = q.days === undefined ? 35 : /^\d{1,3}$/.test(q.days) ? Number(q.days) : Number.NaN;
    if (!Number.isInteger(days) || days < 1 || days > 400) {
      badRequest(res, `"days" must be an integer 1..400; got ${JSON.stringify(q.days)}`);
      return;
    }
    const parsedTolerance = q.tolerance === undefined ? undefined : parseTolerancePct(q.tolerance);
    if (parsedTolerance !== undefined && !parsedTolerance.ok) {
      badRequest(res, `"tolerance" ${parsedTolerance.reason}`);
      return;
    }
    const tolerance = parsedTolerance?.value ?? options.tolerancePct ?? 5;
    const format = unwrap(res, oneOf('format', q.format, FORMATS));
    if (format === undefined && q.format !== undefined) return;
    const json = reportToJson(await buildReconciliationReport(db, lastDays(now(), days), tolerance));
    if (format === 'csv') {
      const cols = [
        'day',
        'provider',
        'tracked_usd',
        'tracked_exact_usd',
        'tracked_estimated_usd',
        'unpriced_requests',
        'billed_usd',
        'billing_source',
        'untracked_usd',
        'untracked_share',
        'status',
        'tracked_tokens',
        'billed_tokens',
      ] as const;
      res
        .type('text/csv')
        .attachment('spendline-reconciliation.csv')
        .send(
          toCsv(
            cols,
            json.days.map((d) => cols.map((c) => d[c])),
          ),
        );
      return;
    }
    res.json(json);
  });

  router.get('/budgets/check', budgetCheckHandler(db, now, options.budgets));
  mountDashboardApi(router, db, now, options.budgets);
  return router;
}
