/**
 * Versioned ledger schema. A migration is applied once, in order, inside a transaction; the applied
 * version is kept in `PRAGMA user_version`. Append new migrations; never edit one that has shipped.
 *
 * Shared tables (read by reports, reconciliation, the usage API, budgets and insights):
 *
 * - `usage_rollup`: usage per time bucket and dimension set. `bucket_seconds` is 3600 (hourly) or
 *   86400 (daily, after retention folds old hours). Buckets come from each record's own timestamp
 *   (UTC). Money is integer nano-USD (1 USD = 1e9). Empty string means "not set" for a dimension.
 * - `usage_rollup_principal`: the same measures keyed by one principal (a user or a task), so that
 *   per-user and per-task questions do not need user x task rows in `usage_rollup`.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MEASURES = `
  requests            INTEGER NOT NULL DEFAULT 0,
  errors              INTEGER NOT NULL DEFAULT 0,
  unpriced_requests   INTEGER NOT NULL DEFAULT 0,
  unpriced_tokens     INTEGER NOT NULL DEFAULT 0,
  input_tokens        INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens   INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
  output_tokens       INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
  cost_nano_usd       INTEGER NOT NULL DEFAULT 0,
  duration_ms_sum     INTEGER NOT NULL DEFAULT 0,
  duration_count      INTEGER NOT NULL DEFAULT 0,
  ocr_pages           INTEGER NOT NULL DEFAULT 0,
  embedding_inputs    INTEGER NOT NULL DEFAULT 0`;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'usage rollups',
    sql: `
CREATE TABLE usage_rollup (
  bucket_start    INTEGER NOT NULL,
  bucket_seconds  INTEGER NOT NULL,
  provider        TEXT NOT NULL,
  model           TEXT NOT NULL,
  service         TEXT NOT NULL,
  operation       TEXT NOT NULL,
  feature         TEXT NOT NULL,
  tenant_id       TEXT NOT NULL,
  usage_type      TEXT NOT NULL,
  ${MEASURES},
  PRIMARY KEY (bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type)
) WITHOUT ROWID;

CREATE TABLE usage_rollup_principal (
  principal_kind  TEXT NOT NULL CHECK (principal_kind IN ('user', 'task')),
  principal_id    TEXT NOT NULL,
  bucket_start    INTEGER NOT NULL,
  bucket_seconds  INTEGER NOT NULL,
  provider        TEXT NOT NULL,
  model           TEXT NOT NULL,
  service         TEXT NOT NULL,
  feature         TEXT NOT NULL,
  usage_type      TEXT NOT NULL,
  ${MEASURES},
  PRIMARY KEY (principal_kind, principal_id, bucket_start, bucket_seconds, provider, model, service, feature, usage_type)
) WITHOUT ROWID;
CREATE INDEX usage_rollup_principal_time ON usage_rollup_principal (bucket_start);
`,
  },
];

/** Measure column names, in table order: every rollup table has exactly these. */
export const MEASURE_COLUMNS = [
  'requests',
  'errors',
  'unpriced_requests',
  'unpriced_tokens',
  'input_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cost_nano_usd',
  'duration_ms_sum',
  'duration_count',
  'ocr_pages',
  'embedding_inputs',
] as const;
export type MeasureColumn = (typeof MEASURE_COLUMNS)[number];
