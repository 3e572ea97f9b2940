import type { BudgetState } from './budgetExceededError.js';

/** What a budget check decided for one scope. */
export type BudgetAnswer =
  | { status: 'within' }
  | { status: 'exceeded'; budgets: BudgetState[] }
  | { status: 'unavailable'; reason: string };

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Parses the sidecar's `/api/budgets/check` JSON; anything malformed is `unavailable` with a reason. */
export function parseBudgetAnswer(body: unknown): BudgetAnswer {
  const b = obj(body);
  if (!b) return { status: 'unavailable', reason: 'bad_json' };
  if (b.status === 'within') return { status: 'within' };
  if (b.status !== 'exceeded' || !Array.isArray(b.budgets))
    return { status: 'unavailable', reason: 'bad_answer' };
  const budgets: BudgetState[] = [];
  for (const raw of b.budgets) {
    const e = obj(raw);
    if (e?.status !== 'exceeded') continue;
    const budget = str(e.budget);
    const period = str(e.period);
    const limitUsd = str(e.limit_usd);
    const spentUsd = str(e.spent_usd);
    const remainingUsd = str(e.remaining_usd);
    if (!budget || !period || !limitUsd || !spentUsd || !remainingUsd)
      return { status: 'unavailable', reason: 'bad_answer' };
    budgets.push({ budget, period, limitUsd, spentUsd, remainingUsd, status: 'exceeded' });
  }
  return { status: 'exceeded', budgets };
}
