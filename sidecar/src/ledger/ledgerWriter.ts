/**
 * Runs a batch's ledger writes in ONE transaction. A batch's writes are a list of (SQL, rows of
 * positional arguments, or a function producing them), each statement prepared once per connection;
 * either every row commits or none does.
 *
 * (A writer thread with its own connection was measured too: it took the commit off the event loop
 * (longest stall 61 ms instead of 94 ms at 1 M records) but cost 40-55 MB more RSS and was no faster
 * overall on two cores; docs/performance.md.)
 */
import type Database from 'better-sqlite3';
import type { LedgerDb } from './openLedger.js';

export type SqlArg = string | number | bigint | null | Uint8Array;
/**
 * One statement and the argument rows it runs with: a list, or a function that hands each row to
 * `run` (a row's array may be reused for the next: it is bound when `run` is called).
 */
export type WriteOp = [sql: string, rows: SqlArg[][] | ((run: (args: SqlArg[]) => void) => void)];

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** `sql` prepared on `db`, once per connection (the SQLite store's reads use the same cache). */
export function prepared(db: LedgerDb, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (cache === undefined) {
    cache = new Map();
    statements.set(db, cache);
  }
  let stmt = cache.get(sql);
  if (stmt === undefined) {
    stmt = db.prepare(sql);
    cache.set(sql, stmt);
  }
  return stmt;
}

/** Runs `ops` in one transaction on `db`; throws (nothing written) if any statement fails. */
export function runWrites(db: LedgerDb, ops: WriteOp[]): void {
  db.transaction(() => {
    for (const [sql, rows] of ops) {
      const st = prepared(db, sql);
      if (typeof rows === 'function') rows((args) => st.run(args));
      else for (const args of rows) st.run(args);
    }
  })();
}
