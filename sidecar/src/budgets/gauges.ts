import { nanoToUsd } from '@spendline/sdk/core';
import { Gauge, type Registry } from 'prom-client';
import type { LedgerDb } from '../ledger/openLedger.js';
import { BUDGET_SCOPE_KEYS, type Budget } from './budgetFile.js';
import { budgetStatus, isPerValueBudget } from './budgetSpend.js';

/**
 * The `scope` label of a budget's gauges: `total` for a budget on total spend, else the scoped
 * dimensions in a fixed order (`feature`, `provider+service`, ...). Values stay out (a user id is
 * never a label); the budget's name tells them apart.
 */
export function budgetScopeLabel(b: Budget): string {
  const keys = BUDGET_SCOPE_KEYS.filter((k) => b.scope[k] !== undefined);
  return keys.length === 0 ? 'total' : keys.join('+');
}

/**
 * `llm_budget_limit_usd` and `llm_budget_spent_usd` {budget, period, scope} for every budget with a
 * fixed scope (per-value `*` budgets are answered by `/api/budgets/check`, not as labels:
 * cardinality). Spent is read from the ledger at scrape time for the current UTC period.
 */
export function registerBudgetGauges(
  registry: Registry,
  db: LedgerDb,
  budgets: Budget[],
  now: () => number,
): void {
  const fixed = budgets.filter((b) => !isPerValueBudget(b));
  new Gauge({
    name: 'llm_budget_limit_usd',
    help: 'Budget limit for the current period, USD.',
    labelNames: ['budget', 'period', 'scope'],
    registers: [registry],
    collect() {
      this.reset();
      for (const b of fixed)
        this.set({ budget: b.name, period: b.period, scope: budgetScopeLabel(b) }, nanoToUsd(b.limitNano));
    },
  });
  new Gauge({
    name: 'llm_budget_spent_usd',
    help: 'Tracked spend in the current UTC period of the budget (hour, day, month, or lifetime), USD; unpriced usage not included.',
    labelNames: ['budget', 'period', 'scope'],
    registers: [registry],
    collect() {
      this.reset();
      const t = now();
      for (const b of fixed)
        this.set(
          { budget: b.name, period: b.period, scope: budgetScopeLabel(b) },
          nanoToUsd(budgetStatus(db, b, t).spentNano),
        );
    },
  });
}
