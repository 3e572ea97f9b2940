import { nanoToUsd } from '@spendline/sdk/core';
import { Gauge, type Registry } from 'prom-client';
import type { LedgerDb } from '../ledger/openLedger.js';
import type { Budget } from './budgetFile.js';
import { budgetStatus, isPerValueBudget } from './budgetSpend.js';

/**
 * `llm_budget_limit_usd` and `llm_budget_spent_usd` {budget, period} for every budget with a fixed
 * scope (per-value `*` budgets are answered by `/api/budgets/check`, not as labels: cardinality).
 * Spent is read from the ledger at scrape time for the current UTC period.
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
    labelNames: ['budget', 'period'],
    registers: [registry],
    collect() {
      this.reset();
      for (const b of fixed) this.set({ budget: b.name, period: b.period }, nanoToUsd(b.limitNano));
    },
  });
  new Gauge({
    name: 'llm_budget_spent_usd',
    help: 'Tracked spend in the current UTC period of the budget (hour, day, month, or lifetime), USD; unpriced usage not included.',
    labelNames: ['budget', 'period'],
    registers: [registry],
    collect() {
      this.reset();
      const t = now();
      for (const b of fixed)
        this.set({ budget: b.name, period: b.period }, nanoToUsd(budgetStatus(db, b, t).spentNano));
    },
  });
}
