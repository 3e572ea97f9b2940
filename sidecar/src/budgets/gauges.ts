import { nanoToUsd } from '@spendline/sdk/core';
import { Gauge, type Registry } from 'prom-client';
import type { LedgerStore } from '../ledger/store.js';
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
 * cardinality). Spent is read from the ledger at scrape time for the current UTC period, in an async
 * `collect` (prom-client awaits it); on a shared ledger it is the whole fleet's spend. When the ledger
 * cannot be read (PostgreSQL down), `llm_budget_spent_usd` is absent from that scrape rather than
 * failing `/metrics` or showing a stale figure. Read from a PostgreSQL ledger (the same fleet figure
 * on every sidecar sharing it), the spent gauge carries `ledger="shared"`: take it once, not summed.
 */
export function registerBudgetGauges(
  registry: Registry,
  db: LedgerStore,
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
  const shared = db.kind === 'postgres';
  new Gauge({
    name: 'llm_budget_spent_usd',
    help: 'Tracked spend in the current UTC period of the budget (hour, day, month, or lifetime), USD; unpriced usage not included.',
    labelNames: shared ? ['budget', 'period', 'scope', 'ledger'] : ['budget', 'period', 'scope'],
    registers: [registry],
    async collect() {
      const t = now();
      let spent: bigint[];
      try {
        spent = await Promise.all(fixed.map(async (b) => (await budgetStatus(db, b, t)).spentNano));
      } catch {
        spent = [];
      }
      this.reset();
      spent.forEach((nano, i) => {
        const b = fixed[i] as Budget;
        const labels = { budget: b.name, period: b.period, scope: budgetScopeLabel(b) };
        this.set(shared ? { ...labels, ledger: 'shared' } : labels, nanoToUsd(nano));
      });
    },
  });
}
