import { parseConfigText, readConfigFile, usdToNano } from '@spendline/sdk/core';
import { z } from 'zod';

/** UTC hour, day, calendar month, or `lifetime` (all spend ever recorded, e.g. a task's total). */
export const BUDGET_PERIODS = ['hour', 'day', 'month', 'lifetime'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];
export const BUDGET_SCOPE_KEYS = ['provider', 'service', 'feature', 'user', 'task', 'tenant'] as const;
export type BudgetScopeKey = (typeof BUDGET_SCOPE_KEYS)[number];

export interface Budget {
  name: string;
  period: BudgetPeriod;
  /** Empty = total spend. A value of `*` means "each value separately" (e.g. every user gets the limit). */
  scope: Partial<Record<BudgetScopeKey, string>>;
  limitNano: number;
}

/** A scope value: no NUL, which no dimension holds and a PostgreSQL ledger cannot be asked for. */
const scopeValue = z
  .string()
  .min(1)
  .refine((v) => !v.includes('\u0000'), 'must not contain NUL')
  .optional();
const scopeSchema = z
  .object({
    provider: scopeValue,
    service: scopeValue,
    feature: scopeValue,
    user: scopeValue,
    task: scopeValue,
    tenant: scopeValue,
  })
  .strict();

const budgetSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'name: letters, digits, _ . : - (it is a metric label)'),
    period: z.enum(BUDGET_PERIODS),
    scope: z.union([z.literal('total'), scopeSchema]).optional(),
    limit_usd: z.union([z.number(), z.string()]),
  })
  .strict();

const fileSchema = z.object({ budgets: z.array(budgetSchema) }).strict();

export type BudgetsResult = { ok: true; budgets: Budget[] } | { ok: false; reason: string };

/** Validates a parsed budgets document (JSON or YAML). Limits become exact nano-USD. */
export function parseBudgets(doc: unknown): BudgetsResult {
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}` };
  }
  const budgets: Budget[] = [];
  const names = new Set<string>();
  for (const [i, b] of parsed.data.budgets.entries()) {
    if (names.has(b.name)) return { ok: false, reason: `budgets.${i}.name: duplicate budget name ${b.name}` };
    names.add(b.name);
    const limit = usdToNano(b.limit_usd);
    if (!limit.ok || limit.nano <= 0) {
      return { ok: false, reason: `budgets.${i}.limit_usd: ${limit.ok ? 'must be > 0' : limit.reason}` };
    }
    const scope = b.scope === undefined || b.scope === 'total' ? {} : b.scope;
    if (scope.user !== undefined && scope.tenant !== undefined) {
      return {
        ok: false,
        reason: `budgets.${i}.scope: user and tenant cannot be combined (per-user spend is not kept per tenant)`,
      };
    }
    if (scope.task !== undefined && (scope.user !== undefined || scope.tenant !== undefined)) {
      return {
        ok: false,
        reason: `budgets.${i}.scope: task cannot be combined with user or tenant (per-task spend is kept on its own)`,
      };
    }
    budgets.push({ name: b.name, period: b.period, scope, limitNano: limit.nano });
  }
  return { ok: true, budgets };
}

/** Reads `--budgets <file>`: `.json` as JSON, anything else as YAML (a superset of JSON). */
export function loadBudgetsFile(path: string): BudgetsResult {
  const file = readConfigFile(path);
  if (!file.ok) return { ok: false, reason: `cannot read ${path}: ${file.reason}` };
  const text = file.text;
  const json = path.endsWith('.json');
  const parsed = parseConfigText(text, json ? 'json' : 'yaml');
  if (!parsed.ok)
    return { ok: false, reason: `${path}: not valid ${json ? 'JSON' : 'YAML'}: ${parsed.reason}` };
  const r = parseBudgets(parsed.doc);
  return r.ok ? r : { ok: false, reason: `${path}: ${r.reason}` };
}
