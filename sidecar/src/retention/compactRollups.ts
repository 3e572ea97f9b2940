import { LATENCY_COUNT_COLUMNS, MEASURE_COLUMNS } from '../ledger/migrations.js';
import type { LedgerDb } from '../ledger/openLedger.js';

export const DEFAULT_HOURLY_RETENTION_DAYS = 90;

export interface CompactionResult {
  /** Hourly rows folded (and deleted), per table. */
  foldedUsageRows: number;
  foldedPrincipalRows: number;
  /** Everything strictly before this instant (a UTC midnight, unix s) is now daily. */
  cutoffSec: number;
}

const measures = MEASURE_COLUMNS.join(', ');
const sums = MEASURE_COLUMNS.map((c) => `SUM(${c})`).join(', ');
const adds = MEASURE_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ');

/**
 * Folds hourly rollups older than `hourlyRetentionDays` into daily rows (bucket_seconds 86400),
 * adding into any daily row already there, then deletes the hours, in one transaction: every sum
 * is preserved exactly, and a crash leaves either the hours or the days, never both. The same for
 * the latency and error rollups. Running totals (usage_total: sessions and principals) have no
 * time buckets: they are kept as they are.
 * The cutoff is a UTC midnight so a day is never split between hourly and daily rows.
 */
export function compactRollups(
  db: LedgerDb,
  nowMs: number,
  hourlyRetentionDays: number = DEFAULT_HOURLY_RETENTION_DAYS,
): CompactionResult {
  const cutoffSec = Math.floor((nowMs / 1000 - hourlyRetentionDays * 86_400) / 86_400) * 86_400;
  const foldUsage = db.prepare(`
    INSERT INTO usage_rollup (bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type, agent, execution_path, source, ${measures})
    SELECT bucket_start - (bucket_start % 86400), 86400, provider, model, service, operation, feature, tenant_id, usage_type, agent, execution_path, source, ${sums}
    FROM usage_rollup WHERE bucket_seconds < 86400 AND bucket_start < @cutoff
    GROUP BY 1, provider, model, service, operation, feature, tenant_id, usage_type, agent, execution_path, source
    ON CONFLICT DO UPDATE SET ${adds}`);
  const foldPrincipal = db.prepare(`
    INSERT INTO usage_rollup_principal (principal_kind, principal_id, bucket_start, bucket_seconds, provider, model, service, feature, usage_type, ${measures})
    SELECT principal_kind, principal_id, bucket_start - (bucket_start % 86400), 86400, provider, model, service, feature, usage_type, ${sums}
    FROM usage_rollup_principal WHERE bucket_seconds < 86400 AND bucket_start < @cutoff
    GROUP BY principal_kind, principal_id, 3, provider, model, service, feature, usage_type
    ON CONFLICT DO UPDATE SET ${adds}`);
  // Latency histograms and errors by type fold the same way (counts add).
  const foldLatency = db.prepare(`
    INSERT INTO latency_rollup (bucket_start, bucket_seconds, provider, model, metric, ${LATENCY_COUNT_COLUMNS.join(', ')})
    SELECT bucket_start - (bucket_start % 86400), 86400, provider, model, metric, ${LATENCY_COUNT_COLUMNS.map((c) => `SUM(${c})`).join(', ')}
    FROM latency_rollup WHERE bucket_seconds < 86400 AND bucket_start < @cutoff
    GROUP BY 1, provider, model, metric
    ON CONFLICT DO UPDATE SET ${LATENCY_COUNT_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`);
  const foldErrors = db.prepare(`
    INSERT INTO error_rollup (bucket_start, bucket_seconds, provider, model, service, error_type, requests)
    SELECT bucket_start - (bucket_start % 86400), 86400, provider, model, service, error_type, SUM(requests)
    FROM error_rollup WHERE bucket_seconds < 86400 AND bucket_start < @cutoff
    GROUP BY 1, provider, model, service, error_type
    ON CONFLICT DO UPDATE SET requests = requests + excluded.requests`);
  const dropLatency = db.prepare(
    'DELETE FROM latency_rollup WHERE bucket_seconds < 86400 AND bucket_start < @cutoff',
  );
  const dropErrors = db.prepare(
    'DELETE FROM error_rollup WHERE bucket_seconds < 86400 AND bucket_start < @cutoff',
  );
  const dropUsage = db.prepare(
    'DELETE FROM usage_rollup WHERE bucket_seconds < 86400 AND bucket_start < @cutoff',
  );
  const dropPrincipal = db.prepare(
    'DELETE FROM usage_rollup_principal WHERE bucket_seconds < 86400 AND bucket_start < @cutoff',
  );
  return db.transaction(() => {
    foldUsage.run({ cutoff: cutoffSec });
    foldPrincipal.run({ cutoff: cutoffSec });
    const foldedUsageRows = dropUsage.run({ cutoff: cutoffSec }).changes;
    const foldedPrincipalRows = dropPrincipal.run({ cutoff: cutoffSec }).changes;
    foldLatency.run({ cutoff: cutoffSec });
    foldErrors.run({ cutoff: cutoffSec });
    dropLatency.run({ cutoff: cutoffSec });
    dropErrors.run({ cutoff: cutoffSec });
    return { foldedUsageRows, foldedPrincipalRows, cutoffSec };
  })();
}
