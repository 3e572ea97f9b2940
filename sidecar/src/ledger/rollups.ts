import { MEASURE_COLUMNS, type MeasureColumn } from './migrations.js';
import type { LedgerDb } from './openLedger.js';

export type Measures = Record<MeasureColumn, number>;

export interface RollupKey {
  bucketStart: number;
  bucketSeconds: number;
  provider: string;
  model: string;
  service: string;
  operation: string;
  feature: string;
  tenantId: string;
  usageType: string;
}

export interface PrincipalRollupKey {
  principalKind: 'user' | 'task';
  principalId: string;
  bucketStart: number;
  bucketSeconds: number;
  provider: string;
  model: string;
  service: string;
  feature: string;
  usageType: string;
}

export function emptyMeasures(): Measures {
  const m = {} as Measures;
  for (const c of MEASURE_COLUMNS) m[c] = 0;
  return m;
}

export function addMeasures(into: Measures, from: Measures): void {
  for (const c of MEASURE_COLUMNS) into[c] += from[c];
}

const measureList = MEASURE_COLUMNS.join(', ');
const measureParams = MEASURE_COLUMNS.map((c) => `@${c}`).join(', ');
const measureAdd = MEASURE_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ');

/**
 * Adds measures into the rollup tables (upsert: existing rows are incremented). Call inside the
 * batch's transaction so rollups commit together with counters, dedup keys and file offsets.
 */
export function createRollupWriter(db: LedgerDb) {
  const usage = db.prepare(
    `INSERT INTO usage_rollup (bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type, ${measureList})
     VALUES (@bucketStart, @bucketSeconds, @provider, @model, @service, @operation, @feature, @tenantId, @usageType, ${measureParams})
     ON CONFLICT DO UPDATE SET ${measureAdd}`,
  );
  const principal = db.prepare(
    `INSERT INTO usage_rollup_principal (principal_kind, principal_id, bucket_start, bucket_seconds, provider, model, service, feature, usage_type, ${measureList})
     VALUES (@principalKind, @principalId, @bucketStart, @bucketSeconds, @provider, @model, @service, @feature, @usageType, ${measureParams})
     ON CONFLICT DO UPDATE SET ${measureAdd}`,
  );
  return {
    addUsage(key: RollupKey, measures: Measures): void {
      usage.run({ ...key, ...measures });
    },
    addPrincipal(key: PrincipalRollupKey, measures: Measures): void {
      principal.run({ ...key, ...measures });
    },
  };
}
export type RollupWriter = ReturnType<typeof createRollupWriter>;
