import type { Dialect, LedgerStore } from '../ledger/store.js';
import { CAPPED_VALUES, capValueLength } from '../pipeline/valueLength.js';

/** Dimensions a query can filter on, and group by. */
export const FILTERS = [
  'provider',
  'model',
  'service',
  'feature',
  'user',
  'task',
  'tenant',
  'agent',
  'execution_path',
  'source',
] as const;
/** Filters on dimensions whose values the pipeline cuts to MAX_VALUE_LENGTH. */
const CUT_FILTERS: ReadonlySet<FilterName> = new Set(
  (CAPPED_VALUES as readonly string[]).filter((v): v is FilterName =>
    (FILTERS as readonly string[]).includes(v),
  ),
);
/** Groupings by time: keys are the period's start, rows are ordered by it. */
export const TIME_GROUPS = ['hour', 'day', 'week', 'month'] as const;
export const GROUP_BY = [...FILTERS, ...TIME_GROUPS] as const;
type TimeGroup = (typeof TIME_GROUPS)[number];
const isTimeGroup = (g: GroupBy | undefined): g is TimeGroup =>
  g !== undefined && (TIME_GROUPS as readonly string[]).includes(g);

/**
 * SQL for a time group's key, from `bucket_start` (UTC): hour `2026-09-01T13:00:00Z`, day
 * `2026-09-01`, week = its Monday `2026-08-31`, month `2026-09`. Days older than the hourly retention
 * are one daily row, so grouped by hour they show at 00:00.
 */
function timeKey(dialect: Dialect, group: TimeGroup): string {
  switch (group) {
    case 'hour':
      return dialect.hourLabel('bucket_start');
    case 'day':
      return dialect.dayLabel('bucket_start');
    case 'week':
      return dialect.weekLabel('bucket_start');
    case 'month':
      return dialect.monthLabel('bucket_start');
  }
}
export type GroupBy = (typeof GROUP_BY)[number];
/** Dimensions usage_rollup keeps but the per-user / per-task rollup does not. */
export const NOT_PER_PRINCIPAL: readonly GroupBy[] = ['tenant', 'agent', 'execution_path', 'source'];
export type FilterName = (typeof FILTERS)[number];
export type UsageFilters = Partial<Record<FilterName, string>>;

export interface UsageQuery {
  /** Inclusive start, unix seconds: a bucket counts when it starts in [from, to). */
  fromSec: number;
  toSec: number;
  groupBy?: GroupBy | undefined;
  filters?: UsageFilters;
  /** Only the `limit` biggest groups (by cost; by date for time groups); totals still cover every group. */
  limit?: number | undefined;
  /**
   * Only groups whose key contains this text (case-insensitive for ASCII); like `limit`, it chooses
   * rows: totals still cover every group.
   */
  search?: string | undefined;
}

export interface UsageTotals {
  requests: number;
  errors: number;
  costNano: bigint;
  exactCostNano: bigint;
  estimatedCostNano: bigint;
  /** Requests with no known price: their cost is missing from costNano, never $0. */
  unpricedRequests: number;
  unpricedTokens: number;
  /** Requests whose emitter reported no usage (usage_type unknown): tokens and cost unknown, never $0. */
  unknownUsageRequests: number;
  inputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  ocrPages: number;
  embeddingInputs: number;
}
export interface UsageRow extends UsageTotals {
  /** The group's value ('' = not set); absent for an ungrouped query. */
  key: string;
}
export type UsageResult =
  | { ok: true; rows: UsageRow[]; totals: UsageTotals /** groups before `limit` */; groupCount: number }
  | { ok: false; reason: string };

const ROLLUP_COLUMN: Record<Exclude<GroupBy, TimeGroup>, string> = {
  provider: 'provider',
  model: 'model',
  service: 'service',
  feature: 'feature',
  tenant: 'tenant_id',
  agent: 'agent',
  execution_path: 'execution_path',
  source: 'source',
  user: 'principal_id',
  task: 'principal_id',
};

const SELECT_MEASURES = `
  SUM(requests) AS requests, SUM(errors) AS errors,
  SUM(cost_nano_usd) AS cost,
  SUM(CASE WHEN usage_type = 'exact' THEN cost_nano_usd ELSE 0 END) AS exact_cost,
  SUM(unpriced_requests) AS unpriced_requests, SUM(unpriced_tokens) AS unpriced_tokens,
  SUM(CASE WHEN usage_type = 'unknown' THEN requests ELSE 0 END) AS unknown_usage_requests,
  SUM(input_tokens) AS input_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
  SUM(cache_write_tokens) AS cache_write_tokens, SUM(output_tokens) AS output_tokens,
  SUM(reasoning_tokens) AS reasoning_tokens, SUM(ocr_pages) AS ocr_pages, SUM(embedding_inputs) AS embedding_inputs`;

type SqlRow = Record<string, bigint | string | null>;

function toTotals(r: SqlRow): UsageTotals {
  const n = (k: string) => Number(r[k] ?? 0n);
  const cost = BigInt(r.cost ?? 0n);
  const exact = BigInt(r.exact_cost ?? 0n);
  return {
    requests: n('requests'),
    errors: n('errors'),
    costNano: cost,
    exactCostNano: exact,
    estimatedCostNano: cost - exact,
    unpricedRequests: n('unpriced_requests'),
    unpricedTokens: n('unpriced_tokens'),
    unknownUsageRequests: n('unknown_usage_requests'),
    inputTokens: n('input_tokens'),
    cacheReadTokens: n('cache_read_tokens'),
    cacheWriteTokens: n('cache_write_tokens'),
    outputTokens: n('output_tokens'),
    reasoningTokens: n('reasoning_tokens'),
    ocrPages: n('ocr_pages'),
    embeddingInputs: n('embedding_inputs'),
  };
}

function addTotals(into: UsageTotals, r: UsageTotals): void {
  into.requests += r.requests;
  into.errors += r.errors;
  into.costNano += r.costNano;
  into.exactCostNano += r.exactCostNano;
  into.estimatedCostNano += r.estimatedCostNano;
  into.unpricedRequests += r.unpricedRequests;
  into.unpricedTokens += r.unpricedTokens;
  into.unknownUsageRequests += r.unknownUsageRequests;
  into.inputTokens += r.inputTokens;
  into.cacheReadTokens += r.cacheReadTokens;
  into.cacheWriteTokens += r.cacheWriteTokens;
  into.outputTokens += r.outputTokens;
  into.reasoningTokens += r.reasoningTokens;
  into.ocrPages += r.ocrPages;
  into.embeddingInputs += r.embeddingInputs;
}

/**
 * Usage from the rollup tables. Per-user and per-task questions (group or filter) read
 * `usage_rollup_principal`; everything else reads `usage_rollup`. One principal kind per query
 * (the ledger keeps users and tasks apart), and tenants are not kept per principal.
 * Both backends give the same answer, row order included (text compares by its bytes on both: the
 * PostgreSQL ledger's text columns are `COLLATE "C"`, see toPgDdl).
 */
export async function queryUsage(db: LedgerStore, q: UsageQuery): Promise<UsageResult> {
  const filters = q.filters ?? {};
  const principalKinds = new Set<'user' | 'task'>();
  if (q.groupBy === 'user' || filters.user !== undefined) principalKinds.add('user');
  if (q.groupBy === 'task' || filters.task !== undefined) principalKinds.add('task');
  if (principalKinds.size > 1)
    return {
      ok: false,
      reason:
        'users and tasks cannot be combined in one query (group by one, filter by the other is not kept)',
    };
  const kind = [...principalKinds][0];
  const notKept = NOT_PER_PRINCIPAL.find((d) => q.groupBy === d || filters[d as FilterName] !== undefined);
  if (kind !== undefined && notKept !== undefined) {
    return {
      ok: false,
      reason: `${notKept} cannot be combined with ${kind}: per-${kind} usage is not kept per ${notKept}`,
    };
  }
  const where = ['bucket_start >= @from', 'bucket_start < @to'];
  const params: Record<string, string | number> = { from: q.fromSec, to: q.toSec };
  if (kind !== undefined) {
    where.push('principal_kind = @kind');
    params.kind = kind;
  }
  for (const name of FILTERS) {
    const value = filters[name];
    if (value === undefined) continue;
    where.push(`${ROLLUP_COLUMN[name]} = @f_${name}`);
    // The ledger holds a long name cut (capValueLength): asking with the whole name finds it.
    params[`f_${name}`] = CUT_FILTERS.has(name) ? capValueLength(value) : value;
  }
  const table = kind === undefined ? 'usage_rollup' : 'usage_rollup_principal';
  const keyExpr =
    q.groupBy === undefined
      ? "''"
      : isTimeGroup(q.groupBy)
        ? timeKey(db.dialect, q.groupBy)
        : ROLLUP_COLUMN[q.groupBy];
  const grouped = q.groupBy !== undefined;
  const search = grouped ? (q.search ?? '') : '';
  const searching = search !== '';
  if (searching) {
    where.push(`${keyExpr} ${db.dialect.like} @search ESCAPE '\\'`);
    params.search = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  }
  const order = isTimeGroup(q.groupBy) ? 'key' : `cost DESC, ${keyExpr}`;
  const limit = grouped && q.limit !== undefined && q.limit > 0 ? ` LIMIT ${Math.floor(q.limit)}` : '';
  // Sorting and the top-N cut happen in the database: a by-task report may have 10^5..10^6 groups.
  const sql = `SELECT ${keyExpr} AS key, ${SELECT_MEASURES}${grouped ? ', COUNT(*) OVER () AS group_count' : ''}
    FROM ${table} WHERE ${where.join(' AND ')}${grouped ? ` GROUP BY ${keyExpr} ORDER BY ${order}${limit}` : ''}`;
  const raw = await db.all<SqlRow>(sql, params, { bigint: true });
  const rows = raw
    .filter((r) => r.requests !== null)
    .map((r) => ({ key: String(r.key ?? ''), ...toTotals(r) }));
  const groupCount = grouped ? Number(raw[0]?.group_count ?? 0) : rows.length;
  let totals = toTotals({});
  if (groupCount > rows.length || searching) {
    const all = await queryUsage(db, { ...q, groupBy: undefined, limit: undefined, search: undefined });
    if (all.ok) totals = all.totals;
  } else for (const r of rows) addTotals(totals, r);
  return { ok: true, rows, totals, groupCount };
}
