/**
 * The ledger behind one interface, on SQLite (the default: a file in the state directory, nothing to
 * set up) or PostgreSQL (one ledger shared by many sidecars). Everything that reads or writes the
 * ledger — the counting pipeline, reports, the usage API, budgets, reconciliation, insights,
 * retention, billing imports — goes through `LedgerStore`, with SQL in the subset both share
 * (`?` / `@name` placeholders; `dialect` supplies the few expressions that differ).
 */
import type { WriteOp } from './ledgerWriter.js';
import type { SqlParams } from './sqlText.js';

export type { SqlArg, WriteOp } from './ledgerWriter.js';
export type { SqlParams } from './sqlText.js';

export type LedgerKind = 'sqlite' | 'postgres';

export interface QueryOptions {
  /**
   * Integers (and integral sums) as bigint, exact past 2^53 (SQLite's `safeIntegers`). Otherwise
   * they are numbers.
   */
  bigint?: boolean;
}

export type Row = Record<string, unknown>;

/** Reads and single writes; inside `transaction`, on the transaction. */
export interface LedgerQueries {
  all<T = Row>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<T[]>;
  get<T = Row>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<T | undefined>;
  /** The first column of the first row (undefined when there is no row). */
  value<T = unknown>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<T | undefined>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(sql: string, params?: SqlParams): Promise<number>;
  /**
   * Inside `transaction`: waits for, then holds until the transaction ends, a lock named `name`
   * that other sidecars on the same ledger take too (PostgreSQL: `pg_advisory_xact_lock`). SQLite
   * has one writer per ledger already, so it returns at once there.
   */
  lock(name: string): Promise<void>;
}

/** SQL expressions that differ between the backends. */
export interface Dialect {
  /** UTC hour of a unix-seconds column as `YYYY-MM-DDTHH:00:00Z`. */
  hourLabel(col: string): string;
  /** UTC day as `YYYY-MM-DD`. */
  dayLabel(col: string): string;
  /** Monday of the UTC ISO week as `YYYY-MM-DD`. */
  weekLabel(col: string): string;
  /** UTC month as `YYYY-MM`. */
  monthLabel(col: string): string;
  /** Case-insensitive LIKE (SQLite's LIKE is, for ASCII; PostgreSQL's is not). */
  like: string;
}

/** A committed batch's dedup keys (packed 96-bit hashes, `HASH_BYTES` each) and when it was counted. */
export interface BatchClaim {
  hashes: Uint8Array;
  nowMs: number;
  /** Claims older than this (ms) may be forgotten. */
  expireBeforeMs: number;
}

export type BatchResult =
  | { ok: true }
  /** Keys another sidecar committed first (packed hashes): nothing was written. */
  | { ok: false; taken: Uint8Array };

export interface LedgerStore extends LedgerQueries {
  readonly kind: LedgerKind;
  /** Where the ledger is, for messages (a file path, or the URL without its password). */
  readonly location: string;
  readonly dialect: Dialect;
  /**
   * This sidecar's identity: its file offsets, restored counters and event sequence are kept under
   * it. Always `local` on SQLite (one sidecar per ledger file, held by the state-dir lock).
   */
  readonly sidecarId: string;
  /** Runs `fn` in one transaction; rolls back (and rethrows) if it throws. */
  transaction<T>(fn: (tx: LedgerQueries) => Promise<T>): Promise<T>;
  /**
   * Commits a counting batch in ONE transaction: the claim's dedup keys, then `ops`. On SQLite the
   * keys are this sidecar's alone (the pipeline checked them in memory). On PostgreSQL they are
   * global: if another sidecar committed any of them first, nothing is written and those keys are
   * returned, so the batch can be counted again without them.
   */
  commitBatch(ops: WriteOp[], claim: BatchClaim | null): Promise<BatchResult>;
  close(): Promise<void>;
}

/**
 * A failure that says the ledger could not be reached rather than that the batch is wrong: a socket
 * error (refused, reset, timed out), the driver's "Connection terminated" / connect timeout, or a
 * PostgreSQL connection-exception, shutdown, resource or serialization class SQLSTATE. Anything else
 * (a constraint, a bug) is not retried.
 */
export function isTransientLedgerError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; syscall?: unknown; errno?: unknown; message?: unknown };
  if (typeof e.syscall === 'string' || typeof e.errno === 'number') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  if (
    /Connection terminated|timeout exceeded when trying to connect|connection error|Client was closed/i.test(
      message,
    )
  )
    return true;
  const code = e.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('08') ||
    code.startsWith('53') ||
    code.startsWith('57P') ||
    code === '40001' ||
    code === '40P01'
  );
}
