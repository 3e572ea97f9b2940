import type { Request, Response } from 'express';
import { BUDGET_SCOPE_KEYS, type Budget } from '../budgets/budgetFile.js';
import { budgetApplies, budgetStatus } from '../budgets/budgetSpend.js';
import type { LedgerStore } from '../ledger/store.js';
import { usdDecimal } from '../report/money.js';
import type { UsageFilters } from '../report/queryUsage.js';
import { readQuery } from './usageParams.js';

/**
 * `GET /budgets/check?user=…&task=…&feature=…`: every budget that governs such a request, its spend in the
 * current period and what remains. `status` is `exceeded` when any applicable budget is spent
 * (spent >= limit), so a service can refuse work before it spends.
 */
export function budgetCheckHandler(db: LedgerStore, now: () => number, budgets: Budget[] | undefined) {
  // Async: a rejected ledger read goes to the app's error handler (Express 5).
  return async (req: Request, res: Response): Promise<void> => {
    const q = readQuery(req, BUDGET_SCOPE_KEYS);
    if (!q.ok) {
      res.status(400).json({ error: 'bad_request', message: q.reason });
      return;
    }
    const ask: UsageFilters = { ...q.value };
    if (budgets === undefined) {
      res.json({ configured: false, status: 'within', remaining_usd: null, budgets: [] });
      return;
    }
    const t = now();
    const statuses = await Promise.all(
      budgets.filter((b) => budgetApplies(b, ask)).map((b) => budgetStatus(db, b, t, ask)),
    );
    const tightest = statuses.reduce<bigint | null>(
      (min, s) => (min === null || s.remainingNano < min ? s.remainingNano : min),
      null,
    );
    res.json({
      configured: true,
      status: statuses.some((s) => s.exceeded) ? 'exceeded' : 'within',
      remaining_usd: tightest === null ? null : usdDecimal(tightest),
      budgets: statuses.map((s) => ({
        budget: s.budget.name,
        period: s.budget.period,
        scope: s.scope,
        period_start:
          s.budget.period === 'lifetime' ? null : new Date(s.window.startSec * 1000).toISOString(),
        period_end: s.budget.period === 'lifetime' ? null : new Date(s.window.endSec * 1000).toISOString(),
        limit_usd: usdDecimal(s.budget.limitNano),
        spent_usd: usdDecimal(s.spentNano),
        remaining_usd: usdDecimal(s.remainingNano),
        status: s.exceeded ? 'exceeded' : 'within',
        unpriced_requests: s.unpricedRequests,
      })),
    });
  };
}
