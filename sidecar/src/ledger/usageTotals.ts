import type { LedgerQueries } from './store.js';

/** What a running total is kept for (`usage_total.kind`); each is also a filter of the live stream. */
export const TOTAL_KINDS = ['session', 'user', 'tenant', 'feature', 'service'] as const;
export type TotalKind = (typeof TOTAL_KINDS)[number];

/**
 * One counted record's contribution, in the order it was counted. `id` is its usage event id, given
 * at commit. Tokens are the disjoint types (input = uncached input, output = non-reasoning output).
 * `costNano` is null when the call has no known price.
 */
export interface UsageDelta {
  id: number;
  atMs: number;
  session: string;
  user: string;
  tenant: string;
  feature: string;
  service: string;
  provider: string;
  model: string;
  usageType: string;
  status: string;
  errorType: string;
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
  costNano: number | null;
}

/** A batch's sum for one (kind, key) row of usage_total, plus its last (latest counted) delta. */
export interface TotalDelta {
  requests: number;
  errors: number;
  unpricedRequests: number;
  unpricedTokens: number;
  usageUnknownRequests: number;
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
  exactCostNano: number;
  estimatedCostNano: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Index of the last delta in the batch's deltas (its event id is known only at commit). */
  lastIndex: number;
  lastModel: string;
  lastTokens: number;
  lastCostNano: number | null;
}

export function emptyTotalDelta(): TotalDelta {
  return {
    requests: 0,
    errors: 0,
    unpricedRequests: 0,
    unpricedTokens: 0,
    usageUnknownRequests: 0,
    input: 0,
    cacheRead: 0,
    cacheWrite: 0,
    output: 0,
    reasoning: 0,
    exactCostNano: 0,
    estimatedCostNano: 0,
    firstSeenMs: Number.POSITIVE_INFINITY,
    lastSeenMs: 0,
    lastIndex: -1,
    lastModel: '',
    lastTokens: 0,
    lastCostNano: null,
  };
}

/** Adds one delta (batch index `index`) into a row's batch sum. */
export function addDelta(t: TotalDelta, d: UsageDelta, index: number): void {
  t.requests += 1;
  if (d.status === 'error') t.errors += 1;
  const tokens = d.input + d.cacheRead + d.cacheWrite + d.output + d.reasoning;
  if (d.costNano === null) {
    t.unpricedRequests += 1;
    t.unpricedTokens += tokens;
  } else if (d.usageType === 'exact') t.exactCostNano += d.costNano;
  else t.estimatedCostNano += d.costNano;
  if (d.usageType === 'unknown') t.usageUnknownRequests += 1;
  t.input += d.input;
  t.cacheRead += d.cacheRead;
  t.cacheWrite += d.cacheWrite;
  t.output += d.output;
  t.reasoning += d.reasoning;
  if (d.atMs < t.firstSeenMs) t.firstSeenMs = d.atMs;
  if (d.atMs > t.lastSeenMs) t.lastSeenMs = d.atMs;
  t.lastIndex = index;
  t.lastModel = d.model;
  t.lastTokens = tokens;
  t.lastCostNano = d.costNano;
}

/** Upserts one usage_total row (args: `totalRowArgs`): sums add, times widen, the last delta replaces. */
export const UPSERT_TOTAL_SQL = `INSERT INTO usage_total (kind, key, requests, errors, unpriced_requests, unpriced_tokens,
  usage_unknown_requests, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
  exact_cost_nano_usd, estimated_cost_nano_usd, first_seen_ms, last_seen_ms, last_event_id, last_model, last_tokens,
  last_cost_nano_usd)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (kind, key) DO UPDATE SET
    requests = usage_total.requests + excluded.requests, errors = usage_total.errors + excluded.errors,
    unpriced_requests = usage_total.unpriced_requests + excluded.unpriced_requests,
    unpriced_tokens = usage_total.unpriced_tokens + excluded.unpriced_tokens,
    usage_unknown_requests = usage_total.usage_unknown_requests + excluded.usage_unknown_requests,
    input_tokens = usage_total.input_tokens + excluded.input_tokens,
    cache_read_tokens = usage_total.cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = usage_total.cache_write_tokens + excluded.cache_write_tokens,
    output_tokens = usage_total.output_tokens + excluded.output_tokens,
    reasoning_tokens = usage_total.reasoning_tokens + excluded.reasoning_tokens,
    exact_cost_nano_usd = usage_total.exact_cost_nano_usd + excluded.exact_cost_nano_usd,
    estimated_cost_nano_usd = usage_total.estimated_cost_nano_usd + excluded.estimated_cost_nano_usd,
    first_seen_ms = CASE WHEN usage_total.first_seen_ms < excluded.first_seen_ms THEN usage_total.first_seen_ms ELSE excluded.first_seen_ms END,
    last_seen_ms = CASE WHEN usage_total.last_seen_ms > excluded.last_seen_ms THEN usage_total.last_seen_ms ELSE excluded.last_seen_ms END,
    last_event_id = excluded.last_event_id, last_model = excluded.last_model,
    last_tokens = excluded.last_tokens, last_cost_nano_usd = excluded.last_cost_nano_usd`;

/** usage_total's positional arguments for one row (written into `args`, reused across rows). */
export function totalRowArgs(
  kind: TotalKind,
  key: string,
  t: TotalDelta,
  lastEventId: number,
  args: (string | number | null)[] = [],
): (string | number | null)[] {
  args[0] = kind;
  args[1] = key;
  args[2] = t.requests;
  args[3] = t.errors;
  args[4] = t.unpricedRequests;
  args[5] = t.unpricedTokens;
  args[6] = t.usageUnknownRequests;
  args[7] = t.input;
  args[8] = t.cacheRead;
  args[9] = t.cacheWrite;
  args[10] = t.output;
  args[11] = t.reasoning;
  args[12] = t.exactCostNano;
  args[13] = t.estimatedCostNano;
  args[14] = t.firstSeenMs;
  args[15] = t.lastSeenMs;
  args[16] = lastEventId;
  args[17] = t.lastModel;
  args[18] = t.lastTokens;
  args[19] = t.lastCostNano;
  return args;
}

/** A committed running total as read from usage_total (money as BigInt nano-USD). */
export interface RunningTotal {
  kind: TotalKind;
  key: string;
  requests: number;
  errors: number;
  unpricedRequests: number;
  unpricedTokens: number;
  usageUnknownRequests: number;
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
  exactCostNano: bigint;
  estimatedCostNano: bigint;
  firstSeenMs: number;
  lastSeenMs: number;
  lastEventId: number | null;
  lastModel: string | null;
  lastTokens: number | null;
  lastCostNano: bigint | null;
}

type TotalSqlRow = Record<string, bigint | string | null>;

export function rowToTotal(r: TotalSqlRow): RunningTotal {
  const n = (k: string) => Number(r[k] ?? 0n);
  const opt = (k: string) => (r[k] === null || r[k] === undefined ? null : Number(r[k]));
  return {
    kind: String(r.kind) as TotalKind,
    key: String(r.key),
    requests: n('requests'),
    errors: n('errors'),
    unpricedRequests: n('unpriced_requests'),
    unpricedTokens: n('unpriced_tokens'),
    usageUnknownRequests: n('usage_unknown_requests'),
    input: n('input_tokens'),
    cacheRead: n('cache_read_tokens'),
    cacheWrite: n('cache_write_tokens'),
    output: n('output_tokens'),
    reasoning: n('reasoning_tokens'),
    exactCostNano: BigInt(r.exact_cost_nano_usd ?? 0n),
    estimatedCostNano: BigInt(r.estimated_cost_nano_usd ?? 0n),
    firstSeenMs: n('first_seen_ms'),
    lastSeenMs: n('last_seen_ms'),
    lastEventId: opt('last_event_id'),
    lastModel: r.last_model === null || r.last_model === undefined ? null : String(r.last_model),
    lastTokens: opt('last_tokens'),
    lastCostNano:
      r.last_cost_nano_usd === null || r.last_cost_nano_usd === undefined
        ? null
        : BigInt(r.last_cost_nano_usd),
  };
}

/** The committed running total of one (kind, key), or undefined when nothing was counted for it. */
export async function readRunningTotal(
  db: LedgerQueries,
  kind: TotalKind,
  key: string,
): Promise<RunningTotal | undefined> {
  const row = await db.get<TotalSqlRow>('SELECT * FROM usage_total WHERE kind = ? AND key = ?', [kind, key], {
    bigint: true,
  });
  return row === undefined ? undefined : rowToTotal(row);
}

/**
 * The committed running totals of several keys of one kind, by key (keys with nothing counted are
 * absent). One query per call.
 */
export async function readRunningTotals(
  db: LedgerQueries,
  kind: TotalKind,
  keys: readonly string[],
): Promise<Map<string, RunningTotal>> {
  const out = new Map<string, RunningTotal>();
  if (keys.length === 0) return out;
  const rows = await db.all<TotalSqlRow>(
    `SELECT * FROM usage_total WHERE kind = ? AND key IN (${keys.map(() => '?').join(', ')})`,
    [kind, ...keys],
    { bigint: true },
  );
  for (const r of rows) out.set(String(r.key), rowToTotal(r));
  return out;
}

/** A running total with nothing counted yet. */
export function zeroTotal(kind: TotalKind, key: string): RunningTotal {
  return {
    ...rowToTotal({ kind, key }),
    firstSeenMs: 0,
    lastSeenMs: 0,
  };
}
