import type Database from 'better-sqlite3';
import { HASH_BYTES, hashKey } from '../pipeline/dedupIndex.js';

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
  /**
   * Data conversion SQL cannot express, run after `sql` in the same transaction (SQLite; a
   * PostgreSQL ledger starts at a version past every migration that has one, see pgStore.ts).
   */
  up?(db: Database.Database): void;
  /** PostgreSQL's DDL when `toPgDdl(sql)` is not it. */
  postgres?: string;
  /** PostgreSQL only: run after the migration's DDL (storage parameters SQLite has no notion of). */
  postgresAfter?: string;
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

/** The measure columns as a SQL list (migrations cannot use MEASURE_COLUMNS: it is declared below). */
const MEASURE_LIST = MEASURES.split(',')
  .map((line) => line.trim().split(/\s+/)[0])
  .join(', ');

/** Bucket count columns of latency_rollup: enough for the larger histogram (TTFT: 16 bounds + +Inf). */
export const LATENCY_COUNT_COLUMNS = Array.from({ length: 17 }, (_, i) => `c${i}`);
const LATENCY_COUNT_DDL = LATENCY_COUNT_COLUMNS.map((c) => `${c} INTEGER NOT NULL DEFAULT 0`).join(',\n  ');

const TOTAL_BACKFILL_COLUMNS =
  'requests, errors, unpriced_requests, unpriced_tokens, usage_unknown_requests, input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens, exact_cost_nano_usd, estimated_cost_nano_usd, first_seen_ms, last_seen_ms';
const TOTAL_BACKFILL_SELECT = `SUM(requests), SUM(errors), SUM(unpriced_requests), SUM(unpriced_tokens),
  SUM(CASE WHEN usage_type = 'unknown' THEN requests ELSE 0 END), SUM(input_tokens),
  SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens),
  SUM(CASE WHEN usage_type = 'exact' THEN cost_nano_usd ELSE 0 END),
  SUM(CASE WHEN usage_type = 'exact' THEN 0 ELSE cost_nano_usd END),
  MIN(bucket_start) * 1000, MAX(bucket_start + bucket_seconds) * 1000 - 1`;

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

-- Counting pipeline state (sidecar/src/ledger/pipelineStore.ts), committed with the rollups in one
-- transaction per batch. metric_counter/metric_histogram hold the committed Prometheus totals per label
-- set (labels = JSON array of values in label-name order; llm_cost_usd_total in nano-USD).
CREATE TABLE metric_counter (
  metric  TEXT NOT NULL,
  labels  TEXT NOT NULL,
  total   INTEGER NOT NULL,
  PRIMARY KEY (metric, labels)
) WITHOUT ROWID;

CREATE TABLE metric_histogram (
  metric  TEXT NOT NULL,
  labels  TEXT NOT NULL,
  counts  TEXT NOT NULL,
  sum     REAL NOT NULL,
  count   INTEGER NOT NULL,
  PRIMARY KEY (metric, labels)
) WITHOUT ROWID;

-- Label values admitted under the per-label cap; values past the cap fold into 'other'. Persisted so
-- that the fold decision, and so the restored series, are the same after a restart.
CREATE TABLE label_value (
  label  TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (label, value)
) WITHOUT ROWID;

-- Dedup keys of counted records, kept for the dedup window (seen_ms = wall clock when counted).
-- Replaced by dedup_batch in version 3.
CREATE TABLE dedup_key (
  key      TEXT PRIMARY KEY,
  seen_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX dedup_key_seen ON dedup_key (seen_ms);

-- Where reading of each tracked file stands: identity (dev, ino, first-line hash) and offset.
CREATE TABLE file_checkpoint (
  dev          INTEGER NOT NULL,
  ino          INTEGER NOT NULL,
  fingerprint  TEXT NOT NULL,
  path         TEXT NOT NULL,
  offset       INTEGER NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('otlp', 'jsonl')),
  PRIMARY KEY (dev, ino)
) WITHOUT ROWID;

CREATE TABLE pipeline_state (
  name   TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    // Owned by billing import / reconciliation (sidecar/src/billing). billing_daily holds one billed
    // amount per (provider, UTC day, source); a newer export (export_version) replaces an older one.
    version: 2,
    name: 'billing imports',
    sql: `
CREATE TABLE billing_daily (
  provider        TEXT NOT NULL,
  day             TEXT NOT NULL,
  source          TEXT NOT NULL,
  cost_nano_usd   INTEGER NOT NULL,
  tokens_total    INTEGER NOT NULL DEFAULT 0,
  line_count      INTEGER NOT NULL DEFAULT 0,
  export_version  INTEGER NOT NULL,
  file_path       TEXT NOT NULL,
  file_sha256     TEXT NOT NULL,
  PRIMARY KEY (provider, day, source)
) WITHOUT ROWID;
CREATE INDEX billing_daily_day ON billing_daily (day);

CREATE TABLE billing_file (
  path            TEXT PRIMARY KEY,
  format          TEXT NOT NULL,
  file_sha256     TEXT NOT NULL,
  size_bytes      INTEGER NOT NULL,
  mtime_ms        INTEGER NOT NULL,
  export_version  INTEGER NOT NULL,
  rows_accepted   INTEGER NOT NULL,
  rows_rejected   INTEGER NOT NULL,
  rows_ignored    INTEGER NOT NULL,
  imported_at_ms  INTEGER NOT NULL
);

CREATE TABLE billing_rejection (
  path            TEXT NOT NULL,
  location        TEXT NOT NULL,
  reason          TEXT NOT NULL
);
CREATE INDEX billing_rejection_path ON billing_rejection (path);
`,
  },
  {
    // Ingest speed (docs/performance.md). (1) Dedup keys move from one row per key (a random-key B-tree
    // insert per counted record) to one row per committed batch holding the batch's 96-bit key hashes
    // (sidecar/src/pipeline/dedupIndex.ts); the sidecar keeps the window's hashes in memory and loads
    // them from here at start. (2) usage_rollup_principal's key starts with the time bucket, like
    // usage_rollup's: records arrive in time order, so a batch's upserts land in the few pages of the
    // current hours instead of one random page per principal, and the separate time index goes.
    version: 3,
    name: 'dedup key hashes per batch; time-first principal rollup key',
    sql: `
CREATE TABLE dedup_batch (
  id       INTEGER PRIMARY KEY,
  seen_ms  INTEGER NOT NULL,
  hashes   BLOB NOT NULL
);
CREATE INDEX dedup_batch_seen ON dedup_batch (seen_ms);

CREATE TABLE usage_rollup_principal_v3 (
  bucket_start    INTEGER NOT NULL,
  bucket_seconds  INTEGER NOT NULL,
  principal_kind  TEXT NOT NULL CHECK (principal_kind IN ('user', 'task')),
  principal_id    TEXT NOT NULL,
  provider        TEXT NOT NULL,
  model           TEXT NOT NULL,
  service         TEXT NOT NULL,
  feature         TEXT NOT NULL,
  usage_type      TEXT NOT NULL,
  ${MEASURES},
  PRIMARY KEY (bucket_start, bucket_seconds, principal_kind, principal_id, provider, model, service, feature, usage_type)
) WITHOUT ROWID;
INSERT INTO usage_rollup_principal_v3 (bucket_start, bucket_seconds, principal_kind, principal_id, provider, model, service, feature, usage_type, ${MEASURE_LIST})
  SELECT bucket_start, bucket_seconds, principal_kind, principal_id, provider, model, service, feature, usage_type, ${MEASURE_LIST}
  FROM usage_rollup_principal;
DROP TABLE usage_rollup_principal;
ALTER TABLE usage_rollup_principal_v3 RENAME TO usage_rollup_principal;
`,
    up(db) {
      const insert = db.prepare('INSERT INTO dedup_batch (seen_ms, hashes) VALUES (?, ?)');
      const bySeen = new Map<number, string[]>();
      for (const row of db.prepare('SELECT key, seen_ms FROM dedup_key').iterate() as Iterable<{
        key: string;
        seen_ms: number;
      }>) {
        const list = bySeen.get(row.seen_ms);
        if (list === undefined) bySeen.set(row.seen_ms, [row.key]);
        else list.push(row.key);
      }
      for (const [seenMs, keys] of bySeen) {
        const bytes = Buffer.alloc(keys.length * HASH_BYTES);
        keys.forEach((key, i) => {
          const h = hashKey(key);
          for (let lane = 0; lane < 3; lane++)
            bytes.writeUInt32LE(h[lane] as number, i * HASH_BYTES + lane * 4);
        });
        insert.run(seenMs, bytes);
      }
      db.exec('DROP TABLE dedup_key');
    },
  },
  {
    // Multi-source attribution (issue 13): agent, execution path and source (a JSONL record's `source`, else
    // its file's source name) become usage_rollup dimensions, so reports can answer "which agent / path /
    // source spent this". '' = not set (OTLP records have no source). The primary key gains the three.
    version: 4,
    name: 'usage rollup dimensions agent, execution_path, source',
    sql: `
CREATE TABLE usage_rollup_v4 (
  bucket_start    INTEGER NOT NULL,
  bucket_seconds  INTEGER NOT NULL,
  provider        TEXT NOT NULL,
  model           TEXT NOT NULL,
  service         TEXT NOT NULL,
  operation       TEXT NOT NULL,
  feature         TEXT NOT NULL,
  tenant_id       TEXT NOT NULL,
  usage_type      TEXT NOT NULL,
  agent           TEXT NOT NULL DEFAULT '',
  execution_path  TEXT NOT NULL DEFAULT '',
  source          TEXT NOT NULL DEFAULT '',
  ${MEASURES},
  PRIMARY KEY (bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type, agent, execution_path, source)
) WITHOUT ROWID;
INSERT INTO usage_rollup_v4 (bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type, ${MEASURE_LIST})
  SELECT bucket_start, bucket_seconds, provider, model, service, operation, feature, tenant_id, usage_type, ${MEASURE_LIST}
  FROM usage_rollup;
DROP TABLE usage_rollup;
ALTER TABLE usage_rollup_v4 RENAME TO usage_rollup;
`,
  },
  {
    // Live usage (issue 17). usage_total: running totals since the ledger began per session, user,
    // tenant, feature and service, written in the same transaction as the rollups (so the live stream's
    // totals are ledger figures). A rowid table: a new session is appended at the end (sessions are many
    // and short, so the rows being updated are the last few pages), and the (kind, key) index is the
    // only random insert. latency_rollup (one row per hour, model and metric; c0..c16 = the counts of
    // the metric's histogram buckets, as llm_request_duration_seconds / llm_time_to_first_token_seconds
    // have them, the last non-empty one being +Inf) and error_rollup: per-hour latency and errors
    // by type, for the status page's percentiles and error breakdown over a chosen time range.
    // pipeline_state 'event_seq' (no DDL): the id of the last committed usage event.
    version: 5,
    name: 'running totals per session and principal; latency and error rollups',
    sql: `
CREATE TABLE usage_total (
  id                        INTEGER PRIMARY KEY,
  kind                      TEXT NOT NULL CHECK (kind IN ('session', 'user', 'tenant', 'feature', 'service')),
  key                       TEXT NOT NULL,
  requests                  INTEGER NOT NULL DEFAULT 0,
  errors                    INTEGER NOT NULL DEFAULT 0,
  unpriced_requests         INTEGER NOT NULL DEFAULT 0,
  unpriced_tokens           INTEGER NOT NULL DEFAULT 0,
  usage_unknown_requests    INTEGER NOT NULL DEFAULT 0,
  input_tokens              INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens         INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens        INTEGER NOT NULL DEFAULT 0,
  output_tokens             INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens          INTEGER NOT NULL DEFAULT 0,
  exact_cost_nano_usd       INTEGER NOT NULL DEFAULT 0,
  estimated_cost_nano_usd   INTEGER NOT NULL DEFAULT 0,
  first_seen_ms             INTEGER NOT NULL,
  last_seen_ms              INTEGER NOT NULL,
  last_event_id             INTEGER,
  last_model                TEXT,
  last_tokens               INTEGER,
  last_cost_nano_usd        INTEGER
);
CREATE UNIQUE INDEX usage_total_key ON usage_total (kind, key);

CREATE TABLE latency_rollup (
  bucket_start    INTEGER NOT NULL,
  bucket_seconds  INTEGER NOT NULL,
  provider        TEXT NOT NULL,
  model           TEXT NOT NULL,
  metric          TEXT NOT NULL CHECK (metric IN ('duration', 'ttft')),
  ${LATENCY_COUNT_DDL},
  PRIMARY KEY (bucket_start, bucket_seconds, provider, model, metric)
) WITHOUT ROWID;

CREATE TABLE error_rollup (
  bucket_start    INTEGER NOT NULL,
  bucket_seconds  INTEGER NOT NULL,
  provider        TEXT NOT NULL,
  model           TEXT NOT NULL,
  service         TEXT NOT NULL,
  error_type      TEXT NOT NULL,
  requests        INTEGER NOT NULL,
  PRIMARY KEY (bucket_start, bucket_seconds, provider, model, service, error_type)
) WITHOUT ROWID;

-- Users, tenants, features and services already counted: their totals so far (sessions were not
-- kept before this version). Times are the hour buckets' bounds; there is no last delta.
INSERT INTO usage_total (kind, key, ${TOTAL_BACKFILL_COLUMNS})
  SELECT 'user', principal_id, ${TOTAL_BACKFILL_SELECT}
  FROM usage_rollup_principal WHERE principal_kind = 'user' AND principal_id <> '' GROUP BY principal_id;
INSERT INTO usage_total (kind, key, ${TOTAL_BACKFILL_COLUMNS})
  SELECT 'tenant', tenant_id, ${TOTAL_BACKFILL_SELECT} FROM usage_rollup WHERE tenant_id <> '' GROUP BY tenant_id;
INSERT INTO usage_total (kind, key, ${TOTAL_BACKFILL_COLUMNS})
  SELECT 'feature', feature, ${TOTAL_BACKFILL_SELECT} FROM usage_rollup WHERE feature <> '' GROUP BY feature;
INSERT INTO usage_total (kind, key, ${TOTAL_BACKFILL_COLUMNS})
  SELECT 'service', service, ${TOTAL_BACKFILL_SELECT} FROM usage_rollup WHERE service <> '' GROUP BY service;
`,
  },
  {
    // Owned by reconciliation (issue 14). tokens_total is 0 both when an export carries no token
    // column and when it says 0 tokens; tokens_reported tells them apart. Rows imported before this
    // migration count as reported when they hold tokens.
    version: 6,
    name: 'billing_daily.tokens_reported',
    sql: `
ALTER TABLE billing_daily ADD COLUMN tokens_reported INTEGER NOT NULL DEFAULT 0;
UPDATE billing_daily SET tokens_reported = 1 WHERE tokens_total > 0;
`,
  },
  {
    // Many sidecars on one ledger (issue 19). The counting pipeline's own state — committed counter
    // totals, histogram buckets, admitted label values, file checkpoints and pipeline_state (event
    // sequence, last record time) — is kept per sidecar (`sidecar_id`; 'local' for a SQLite ledger,
    // which one sidecar holds). Rollups, running totals, billing and budgets stay shared: every
    // sidecar adds into the same rows. dedup_claim holds dedup keys one row per key for a shared
    // (PostgreSQL) ledger, where keys are global: the first commit of a key wins. A SQLite ledger keeps
    // its keys in dedup_batch (one sidecar, keys checked in memory).
    version: 7,
    name: 'per-sidecar pipeline state; global dedup claims',
    // PostgreSQL: the tables every batch upserts leave a third of each page free, so an update of a
    // row's measures (no key column changes) stays on its page without a new index entry (HOT).
    postgresAfter: `
ALTER TABLE usage_rollup SET (fillfactor = 70);
ALTER TABLE usage_rollup_principal SET (fillfactor = 70);
ALTER TABLE usage_total SET (fillfactor = 70);
ALTER TABLE latency_rollup SET (fillfactor = 70);
ALTER TABLE error_rollup SET (fillfactor = 70);
ALTER TABLE metric_counter SET (fillfactor = 70);
ALTER TABLE metric_histogram SET (fillfactor = 70);
`,
    sql: `
DROP TABLE IF EXISTS dedup_key;
CREATE TABLE dedup_claim (
  hash        BLOB PRIMARY KEY,
  seen_ms     INTEGER NOT NULL,
  sidecar_id  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX dedup_claim_seen ON dedup_claim (seen_ms);

CREATE TABLE metric_counter_v7 (
  sidecar_id  TEXT NOT NULL,
  metric      TEXT NOT NULL,
  labels      TEXT NOT NULL,
  total       INTEGER NOT NULL,
  PRIMARY KEY (sidecar_id, metric, labels)
) WITHOUT ROWID;
INSERT INTO metric_counter_v7 (sidecar_id, metric, labels, total) SELECT 'local', metric, labels, total FROM metric_counter;
DROP TABLE metric_counter;
ALTER TABLE metric_counter_v7 RENAME TO metric_counter;

CREATE TABLE metric_histogram_v7 (
  sidecar_id  TEXT NOT NULL,
  metric      TEXT NOT NULL,
  labels      TEXT NOT NULL,
  counts      TEXT NOT NULL,
  sum         REAL NOT NULL,
  count       INTEGER NOT NULL,
  PRIMARY KEY (sidecar_id, metric, labels)
) WITHOUT ROWID;
INSERT INTO metric_histogram_v7 (sidecar_id, metric, labels, counts, sum, count)
  SELECT 'local', metric, labels, counts, sum, count FROM metric_histogram;
DROP TABLE metric_histogram;
ALTER TABLE metric_histogram_v7 RENAME TO metric_histogram;

CREATE TABLE label_value_v7 (
  sidecar_id  TEXT NOT NULL,
  label       TEXT NOT NULL,
  value       TEXT NOT NULL,
  PRIMARY KEY (sidecar_id, label, value)
) WITHOUT ROWID;
INSERT INTO label_value_v7 (sidecar_id, label, value) SELECT 'local', label, value FROM label_value;
DROP TABLE label_value;
ALTER TABLE label_value_v7 RENAME TO label_value;

CREATE TABLE file_checkpoint_v7 (
  sidecar_id   TEXT NOT NULL,
  dev          INTEGER NOT NULL,
  ino          INTEGER NOT NULL,
  fingerprint  TEXT NOT NULL,
  path         TEXT NOT NULL,
  offset       INTEGER NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('otlp', 'jsonl')),
  PRIMARY KEY (sidecar_id, dev, ino)
) WITHOUT ROWID;
INSERT INTO file_checkpoint_v7 (sidecar_id, dev, ino, fingerprint, path, offset, kind)
  SELECT 'local', dev, ino, fingerprint, path, offset, kind FROM file_checkpoint;
DROP TABLE file_checkpoint;
ALTER TABLE file_checkpoint_v7 RENAME TO file_checkpoint;

CREATE TABLE pipeline_state_v7 (
  sidecar_id  TEXT NOT NULL,
  name        TEXT NOT NULL,
  value       TEXT NOT NULL,
  PRIMARY KEY (sidecar_id, name)
) WITHOUT ROWID;
INSERT INTO pipeline_state_v7 (sidecar_id, name, value) SELECT 'local', name, value FROM pipeline_state;
DROP TABLE pipeline_state;
ALTER TABLE pipeline_state_v7 RENAME TO pipeline_state;
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
