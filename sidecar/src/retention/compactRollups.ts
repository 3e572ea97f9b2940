import { LATENCY_COUNT_COLUMNS, MEASURE_COLUMNS } from '../ledger/migrations.js';
import type { LedgerStore } from '../ledger/store.js';

export const DEFAULT_HOURLY_RETENTION_DAYS = 90;

export interface CompactionResult {
  /** Hourly rows folded (and deleted), per table. */
  foldedUsageRows: number;
  foldedPrincipalRows: number;
  /** Everything strictly before this instant (a UTC midnight, unix s) is now daily. */
  cutoffSec: number;
}

const DAY = 'bucket_start - (bucket_start % 86400)';
const OLD_HOURS = 'bucket_seconds < 86400 AND bucket_start < @cutoff';
const sumsOf = (columns: readonly string[]) => columns.map((c) => `SUM(${c})`).join(', ');
/** `SET` list adding the folded sums into an existing daily row (qualified: PostgreSQL requires it). */
const addsInto = (table: string, columns: readonly string[]) =>
  columns.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');

/** One rollup table: its dimension columns (its key without the bucket) and the counts it adds. */
interface RollupTable {
  name: string;
  dims: readonly string[];
  counts: readonly string[];
}

const USAGE: RollupTable = {
  name: 'usage_rollup',
  dims: [
    'provider',
    'model',
    'service',
    'operation',
    'feature',
    'tenant_id',
    'usage_type',
    'agent',
    'execution_path',
    'source',
  ],
  counts: MEASURE_COLUMNS,
};
const PRINCIPAL: RollupTable = {
  name: 'usage_rollup_principal',
  dims: ['principal_kind', 'principal_id', 'provider', 'model', 'service', 'feature', 'usage_type'],
  counts: MEASURE_COLUMNS,
};
const LATENCY: RollupTable = {
  name: 'latency_rollup',
  dims: ['provider', 'model', 'metric'],
  counts: LATENCY_COUNT_COLUMNS,
};
const ERRORS: RollupTable = {
  name: 'error_rollup',
  dims: ['provider', 'model', 'service', 'error_type'],
  counts: ['requests'],
};
/** In the order a counting batch writes them, so a compaction and a commit lock them alike. */
const TABLES = [USAGE, PRINCIPAL, LATENCY, ERRORS] as const;

/** Adds a table's hourly rows before the cutoff into daily rows (creating them or adding into them). */
const foldSql = (t: RollupTable) => {
  const dims = t.dims.join(', ');
  return `INSERT INTO ${t.name} (bucket_start, bucket_seconds, ${dims}, ${t.counts.join(', ')})
    SELECT ${DAY}, 86400, ${dims}, ${sumsOf(t.counts)}
    FROM ${t.name} WHERE ${OLD_HOURS}
    GROUP BY ${DAY}, ${dims}
    ON CONFLICT (bucket_start, bucket_seconds, ${dims}) DO UPDATE SET ${addsInto(t.name, t.counts)}`;
};
const dropSql = (t: RollupTable) => `DELETE FROM ${t.name} WHERE ${OLD_HOURS}`;

/**
 * Folds hourly rollups older than `hourlyRetentionDays` into daily rows (bucket_seconds 86400),
 * adding into any daily row already there, then deletes the hours, in one transaction: every sum
 * is preserved exactly, and a crash leaves either the hours or the days, never both. The same for
 * the latency and error rollups. Running totals (usage_total: sessions and principals) have no
 * time buckets: they are kept as they are.
 * The cutoff is a UTC midnight so a day is never split between hourly and daily rows.
 *
 * On a shared (PostgreSQL) ledger other sidecars commit into these tables meanwhile, and may compact
 * too: the transaction first takes the four tables for writing (reads go on; commits wait for it),
 * so no row is added between the fold and the delete, and a second compaction finds the hours gone
 * instead of adding them again. On SQLite the transaction is the only writer anyway. A run that
 * finds no hour to fold (most of them: the sidecar compacts hourly) ends there, without the lock.
 */
export async function compactRollups(
  db: LedgerStore,
  nowMs: number,
  hourlyRetentionDays: number = DEFAULT_HOURLY_RETENTION_DAYS,
): Promise<CompactionResult> {
  const cutoffSec = Math.floor((nowMs / 1000 - hourlyRetentionDays * 86_400) / 86_400) * 86_400;
  const at = { cutoff: cutoffSec };
  // Most runs (hourly, on every sidecar) find nothing to fold: they take no lock and write nothing.
  const pending = await db.value(
    `SELECT 1 WHERE ${TABLES.map((t) => `EXISTS (SELECT 1 FROM ${t.name} WHERE ${OLD_HOURS})`).join(' OR ')}`,
    at,
  );
  if (pending === undefined) return { foldedUsageRows: 0, foldedPrincipalRows: 0, cutoffSec };
  return db.transaction(async (tx) => {
    if (db.kind === 'postgres')
      await tx.run(`LOCK TABLE ${TABLES.map((t) => t.name).join(', ')} IN SHARE ROW EXCLUSIVE MODE`);
    const folded: number[] = [];
    for (const t of TABLES) {
      await tx.run(foldSql(t), at);
      folded.push(await tx.run(dropSql(t), at));
    }
    return { foldedUsageRows: folded[0] ?? 0, foldedPrincipalRows: folded[1] ?? 0, cutoffSec };
  });
}
