import { MEASURE_COLUMNS, type MeasureColumn } from './migrations.js';

/**
 * A rollup row's measures. Cost is exact past 2^53 nano-USD: `cost_nano_usd` stays a safe integer
 * and whatever would overflow it goes to `costCarryNano` (a bigint, created only then, so the hot
 * path adds plain numbers). The exact cost is `costNano(m)`.
 */
export type Measures = Record<MeasureColumn, number> & { costCarryNano?: bigint };

/** Adds a non-negative integer cost exactly (see Measures). */
export function addCost(m: Measures, nano: number): void {
  const sum = m.cost_nano_usd + nano;
  if (sum <= Number.MAX_SAFE_INTEGER) m.cost_nano_usd = sum;
  else m.costCarryNano = (m.costCarryNano ?? 0n) + BigInt(nano);
}

/** The exact cost of measures: a number while it is a safe integer, else a bigint. */
export function costNano(m: Measures): number | bigint {
  return m.costCarryNano === undefined ? m.cost_nano_usd : BigInt(m.cost_nano_usd) + m.costCarryNano;
}

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
  /** Attribution dimensions (absent or '' = not set): `gen_ai.agent.name` / JSONL `agent`, execution path, JSONL source. */
  agent?: string;
  executionPath?: string;
  source?: string;
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
  // One literal: one object shape, no per-field transitions (the Measures type makes it list exactly
  // MEASURE_COLUMNS).
  return {
    requests: 0,
    errors: 0,
    unpriced_requests: 0,
    unpriced_tokens: 0,
    input_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    output_tokens: 0,
    reasoning_tokens: 0,
    cost_nano_usd: 0,
    duration_ms_sum: 0,
    duration_count: 0,
    ocr_pages: 0,
    embedding_inputs: 0,
  };
}

export function addMeasures(into: Measures, from: Measures): void {
  for (const c of MEASURE_COLUMNS) if (c !== 'cost_nano_usd') into[c] += from[c];
  addCost(into, from.cost_nano_usd);
  if (from.costCarryNano !== undefined) into.costCarryNano = (into.costCarryNano ?? 0n) + from.costCarryNano;
}

const measureList = MEASURE_COLUMNS.join(', ');
const measureParams = MEASURE_COLUMNS.map(() => '?').join(', ');
/** `SET` list adding a row's measures into the existing row of `table` (qualified: PostgreSQL requires it). */
const measureAdd = (table: string) =>
  MEASURE_COLUMNS.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');

/** Upserts one usage_rollup row (args: `usageRowArgs`); existing rows are incremented. */
export const UPSERT_USAGE_SQL = `INSERT INTO usage_rollup (bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type, agent, execution_path, source, ${measureList})
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ${measureParams})
     ON CONFLICT (bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type, agent, execution_path, source)
     DO UPDATE SET ${measureAdd('usage_rollup')}`;
/** Upserts one usage_rollup_principal row (args: `principalRowArgs`). */
export const UPSERT_PRINCIPAL_SQL = `INSERT INTO usage_rollup_principal (bucket_start, bucket_seconds, principal_kind, principal_id, provider, model, service, feature, usage_type, ${measureList})
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ${measureParams})
     ON CONFLICT (bucket_start, bucket_seconds, principal_kind, principal_id, provider, model, service, feature, usage_type)
     DO UPDATE SET ${measureAdd('usage_rollup_principal')}`;

/** Writes the measures after the dimensions (`args[from..]`). */
export type RowArg = string | number | bigint;

function setMeasures(args: RowArg[], from: number, m: Measures): RowArg[] {
  let i = from;
  for (const c of MEASURE_COLUMNS) args[i++] = c === 'cost_nano_usd' ? costNano(m) : m[c];
  return args;
}

export function usageRowArgs(k: RollupKey, m: Measures): RowArg[] {
  return setMeasures(
    [
      k.bucketStart,
      k.bucketSeconds,
      k.provider,
      k.model,
      k.service,
      k.operation,
      k.feature,
      k.tenantId,
      k.usageType,
      k.agent ?? '',
      k.executionPath ?? '',
      k.source ?? '',
    ],
    12,
    m,
  );
}

/**
 * usage_rollup_principal's positional arguments for one row, written into `args` when given (a batch
 * reuses one array for all its rows: the statement binds the values as it runs).
 */
export function principalRowArgs(k: PrincipalRollupKey, m: Measures, args: RowArg[] = []): RowArg[] {
  args[0] = k.bucketStart;
  args[1] = k.bucketSeconds;
  args[2] = k.principalKind;
  args[3] = k.principalId;
  args[4] = k.provider;
  args[5] = k.model;
  args[6] = k.service;
  args[7] = k.feature;
  args[8] = k.usageType;
  return setMeasures(args, 9, m);
}
