/** One budget as the sidecar's `/api/budgets/check` reports it (amounts are exact decimal strings). */
export interface BudgetState {
  budget: string;
  period: string;
  limitUsd: string;
  spentUsd: string;
  remainingUsd: string;
  status: 'within' | 'exceeded';
}

/**
 * Thrown (as the call's rejection) by an instrumented client call that a budget refuses, before
 * any request is sent. `reason` is `exceeded` (a budget is spent) or `unavailable` (the budget
 * check could not be answered and `failClosed` is on).
 */
export class BudgetExceededError extends Error {
  override readonly name = 'BudgetExceededError';

  constructor(
    readonly reason: 'exceeded' | 'unavailable',
    /** The scope that was checked (user, task, tenant, feature, provider, service). */
    readonly scope: Readonly<Record<string, string>>,
    /** The budgets that are spent (empty when `reason` is `unavailable`). */
    readonly budgets: readonly BudgetState[],
  ) {
    super(
      reason === 'exceeded'
        ? `spendline: budget exceeded (${budgets.map((b) => `${b.budget}: spent ${b.spentUsd} of ${b.limitUsd} USD per ${b.period}`).join('; ')}); the call was not sent`
        : 'spendline: the budget check could not be answered and failClosed is on; the call was not sent',
    );
  }
}
