import type { LedgerStore } from '../ledger/store.js';

export const DAY_SECONDS = 86_400;

export type DayStatus = 'within_tolerance' | 'beyond_tolerance' | 'not_billed_yet';

export interface ReconciledDay {
  /** UTC day `YYYY-MM-DD`. */
  day: string;
  provider: string;
  /** Money is exact bigint nano-USD: a provider's day can pass 2^53 nano-USD (~$9M). */
  trackedExactNano: bigint;
  trackedEstimatedNano: bigint;
  trackedNano: bigint;
  /** Requests the ledger could not price (their cost is unknown, not $0). */
  unpricedRequests: number;
  billedNano: bigint | null;
  /** The export the billed figure comes from (newest export when several sources cover the day). */
  billingSource: string | null;
  /** billed − tracked; negative when more was tracked than billed. */
  untrackedNano: bigint | null;
  /** untracked / billed; null when nothing (or $0) was billed. */
  untrackedShare: number | null;
  /** Tokens tracked in the ledger (input + output, every kind). */
  trackedTokens: number;
  /** Tokens the chosen export says were billed; null when it carries no token total. */
  billedTokens: number | null;
  status: DayStatus;
}

export interface DayRange {
  fromDay: string;
  toDay: string;
}

export function dayOfSeconds(s: number): string {
  return new Date(s * 1000).toISOString().slice(0, 10);
}

export function secondsOfDay(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/** The last `daysBack` UTC days ending with today (inclusive). */
export function lastDays(nowMs: number, daysBack: number): DayRange {
  const today = Math.floor(nowMs / 1000 / DAY_SECONDS) * DAY_SECONDS;
  return { fromDay: dayOfSeconds(today - (daysBack - 1) * DAY_SECONDS), toDay: dayOfSeconds(today) };
}

/**
 * Tracked (ledger, by each record's own UTC day) against billed (imported exports), per provider per
 * day. A day is beyond tolerance when |billed − tracked| > tolerancePct % of billed, or when tracked
 * spend met a $0 bill. Days with tracked spend but no export yet are `not_billed_yet`.
 */
export async function reconcileDays(
  db: LedgerStore,
  range: DayRange,
  tolerancePct: number,
): Promise<ReconciledDay[]> {
  const from = secondsOfDay(range.fromDay);
  const to = secondsOfDay(range.toDay) + DAY_SECONDS;
  // The shared rollups: on a PostgreSQL ledger, every sidecar's tracked spend.
  const tracked = await db.all<{
    provider: string;
    day_start: bigint;
    exact: bigint;
    estimated: bigint;
    unpriced: bigint;
    tokens: bigint;
  }>(
    `SELECT provider, bucket_start - (bucket_start % ${DAY_SECONDS}) AS day_start,
       SUM(CASE WHEN usage_type = 'exact' THEN cost_nano_usd ELSE 0 END) AS exact,
       SUM(CASE WHEN usage_type = 'exact' THEN 0 ELSE cost_nano_usd END) AS estimated,
       SUM(unpriced_requests) AS unpriced,
       SUM(input_tokens + cache_read_tokens + cache_write_tokens + output_tokens + reasoning_tokens) AS tokens
     FROM usage_rollup WHERE bucket_start >= ? AND bucket_start < ?
     GROUP BY provider, bucket_start - (bucket_start % ${DAY_SECONDS})`,
    [from, to],
    { bigint: true },
  );
  // Newest export first per (provider, day); ties by source in code-unit order (below), not by the
  // database's collation.
  const billed = (
    await db.all<{
      provider: string;
      day: string;
      source: string;
      version: bigint;
      cost: bigint;
      tokens: bigint;
      reported: bigint;
    }>(
      `SELECT provider, day, source, export_version AS version, cost_nano_usd AS cost,
         tokens_total AS tokens, tokens_reported AS reported
       FROM billing_daily WHERE day >= ? AND day <= ?`,
      [range.fromDay, range.toDay],
      { bigint: true },
    )
  ).sort((a, b) => (a.version > b.version ? -1 : a.version < b.version ? 1 : cmp(a.source, b.source)));

  const rows = new Map<string, ReconciledDay>();
  const rowFor = (provider: string, day: string): ReconciledDay => {
    const key = `${day}\u0000${provider}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        day,
        provider,
        trackedExactNano: 0n,
        trackedEstimatedNano: 0n,
        trackedNano: 0n,
        unpricedRequests: 0,
        billedNano: null,
        billingSource: null,
        untrackedNano: null,
        untrackedShare: null,
        trackedTokens: 0,
        billedTokens: null,
        status: 'not_billed_yet',
      };
      rows.set(key, row);
    }
    return row;
  };
  for (const t of tracked) {
    const row = rowFor(t.provider, dayOfSeconds(Number(t.day_start)));
    row.trackedExactNano = t.exact;
    row.trackedEstimatedNano = t.estimated;
    row.trackedNano = t.exact + t.estimated;
    row.unpricedRequests = Number(t.unpriced);
    row.trackedTokens = Number(t.tokens);
  }
  for (const b of billed) {
    const row = rowFor(b.provider, b.day);
    if (row.billingSource !== null) continue; // newest export already chosen (sorted by version, newest first)
    row.billedNano = b.cost;
    row.billingSource = b.source;
    row.billedTokens = b.reported === 1n ? Number(b.tokens) : null;
  }
  const toleranceBp = BigInt(Math.round(tolerancePct * 100));
  for (const row of rows.values()) {
    if (row.billedNano === null) continue;
    const untracked = row.billedNano - row.trackedNano;
    row.untrackedNano = untracked;
    row.untrackedShare = row.billedNano === 0n ? null : Number(untracked) / Number(row.billedNano);
    const abs = (n: bigint) => (n < 0n ? -n : n);
    const gap = abs(untracked) * 10_000n;
    const allowed = toleranceBp * abs(row.billedNano);
    row.status = gap > allowed ? 'beyond_tolerance' : 'within_tolerance';
  }
  return [...rows.values()].sort(
    (a, b) => a.day.localeCompare(b.day) || a.provider.localeCompare(b.provider),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface TopSpender {
  name: string;
  trackedNano: bigint;
}

/** The models and services with the most tracked spend for one provider on one UTC day. */
export async function topSpenders(
  db: LedgerStore,
  provider: string,
  day: string,
  limit = 3,
): Promise<{ models: TopSpender[]; services: TopSpender[] }> {
  const from = secondsOfDay(day);
  // Sorted here, not by the database: ties by name in code-unit order on both backends (a day has
  // few models and services).
  const top = async (column: 'model' | 'service') =>
    (
      await db.all<{ name: string; cost: bigint }>(
        `SELECT ${column} AS name, SUM(cost_nano_usd) AS cost FROM usage_rollup
         WHERE provider = ? AND bucket_start >= ? AND bucket_start < ?
         GROUP BY ${column}`,
        [provider, from, from + DAY_SECONDS],
        { bigint: true },
      )
    )
      .sort((a, b) => (a.cost > b.cost ? -1 : a.cost < b.cost ? 1 : cmp(a.name, b.name)))
      .slice(0, limit)
      .map((r) => ({ name: r.name === '' ? '(unset)' : r.name, trackedNano: r.cost }));
  return { models: await top('model'), services: await top('service') };
}
