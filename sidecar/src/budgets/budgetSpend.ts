import type { LedgerStore } from '../ledger/store.js';
import { queryUsage, type UsageFilters } from '../report/queryUsage.js';
import { BUDGET_SCOPE_KEYS, type Budget, type BudgetPeriod } from './budgetFile.js';

export interface PeriodWindow {
  startSec: number;
  endSec: number;
}

/** End of the `lifetime` window: 9999-12-31T23:59:59Z, later than any record. */
export const LIFETIME_END_SEC = 253_402_300_799;

/** The UTC hour, day or calendar month containing `nowMs`; `lifetime` is everything ever recorded. */
export function currentPeriod(period: BudgetPeriod, nowMs: number): PeriodWindow {
  const s = Math.floor(nowMs / 1000);
  if (period === 'lifetime') return { startSec: 0, endSec: LIFETIME_END_SEC };
  if (period === 'hour') return { startSec: s - (s % 3600), endSec: s - (s % 3600) + 3600 };
  if (period === 'day') return { startSec: s - (s % 86_400), endSec: s - (s % 86_400) + 86_400 };
  const d = new Date(nowMs);
  return {
    startSec: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000,
    endSec: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000,
  };
}

export interface BudgetStatus {
  budget: Budget;
  /** The scope with `*` replaced by the asked-for value. */
  scope: UsageFilters;
  window: PeriodWindow;
  spentNano: bigint;
  remainingNano: bigint;
  exceeded: boolean;
  /** Unpriced requests in the window: their cost is unknown, so spent may be understated. */
  unpricedRequests: number;
}

/** True when the budget has a `*` scope (one limit per value); such budgets need a value to be measured. */
export function isPerValueBudget(b: Budget): boolean {
  return Object.values(b.scope).includes('*');
}

/**
 * Whether a budget governs a request described by `ask` (e.g. {user: 'alice', feature: 'search'}):
 * every scope key must be asked with the same value (or any value for `*`). Total budgets always apply.
 */
export function budgetApplies(b: Budget, ask: UsageFilters): boolean {
  return BUDGET_SCOPE_KEYS.every((k) => {
    const want = b.scope[k];
    if (want === undefined) return true;
    const got = ask[k];
    return got !== undefined && (want === '*' || want === got);
  });
}

/**
 * Spend of one budget's current period; `ask` supplies the values for `*` scopes. Read from the
 * shared rollups with no sidecar filter: on a PostgreSQL ledger it is the whole fleet's spend.
 */
export async function budgetStatus(
  db: LedgerStore,
  b: Budget,
  nowMs: number,
  ask: UsageFilters = {},
): Promise<BudgetStatus> {
  const scope: UsageFilters = {};
  for (const k of BUDGET_SCOPE_KEYS) {
    const want = b.scope[k];
    if (want !== undefined) scope[k] = want === '*' ? ask[k] : want;
  }
  const window = currentPeriod(b.period, nowMs);
  const r = await queryUsage(db, { fromSec: window.startSec, toSec: window.endSec, filters: scope });
  // parseBudgets rejects scopes queryUsage cannot answer, so !ok is a bug here.
  if (!r.ok) throw new Error(`budget ${b.name}: ${r.reason}`);
  const spentNano = r.totals.costNano;
  const limit = BigInt(b.limitNano);
  return {
    budget: b,
    scope,
    window,
    spentNano,
    remainingNano: limit - spentNano,
    exceeded: spentNano >= limit,
    unpricedRequests: r.totals.unpricedRequests,
  };
}
