/**
 * Runs a batch's ledger writes in ONE transaction. A batch's writes are a list of (SQL, rows of
 * positional arguments), each statement prepared once per connection; either every row commits or
 * none does.
 *
 * The transaction is written in slices: after about `sliceMs` of statements the writer yields to the
 * event loop (scrapes, API requests, the tail's reads run) and goes on, so a large batch is not one
 * long synchronous stretch. The connection is the caller's to guard meanwhile (`sqliteStore` makes
 * every other use of it wait). A crash between slices leaves an uncommitted transaction, which SQLite
 * discards: the batch is counted again from its file offsets.
 *
 * (A writer thread with its own connection was measured too: it took the commit off the event loop
 * but cost 40-55 MB more RSS and was no faster overall on two cores; docs/performance.md.)
 */
import type Database from 'better-sqlite3';
import type { LedgerDb } from './openLedger.js';

export type SqlArg = string | number | bigint | null | Uint8Array;
/**
 * One statement and the argument rows it runs with: a list, or an iterable (a generator) whose row
 * array may be reused for the next row (a row is bound before the next is taken).
 */
export type WriteOp = [sql: string, rows: SqlArg[][] | Iterable<SqlArg[]>];

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

/**
 * Runs `fn` inside BEGIN IMMEDIATE … COMMIT on `db` (the ledger's write lock taken at once), rolling
 * back and rethrowing if it throws. `fn` may await: the caller keeps other users of the connection out
 * meanwhile.
 */
export async function withTransaction<T>(db: LedgerDb, fn: () => Promise<T>): Promise<T> {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = await fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

/** Statements between two looks at the clock. */
const CLOCK_EVERY = 32;

/**
 * Runs `ops` in one transaction on `db` (BEGIN IMMEDIATE … COMMIT), yielding to the event loop with
 * `pause` whenever a slice of statements has run for `sliceMs`; throws, with nothing written, if any
 * statement fails.
 */
export async function runWrites(
  db: LedgerDb,
  ops: WriteOp[],
  sliceMs = Number.POSITIVE_INFINITY,
  pause: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  await withTransaction(db, async () => {
    let sliceStart = performance.now();
    let n = 0;
    for (const [sql, rows] of ops) {
      const st = prepared(db, sql);
      for (const args of rows) {
        st.run(args);
        if (++n % CLOCK_EVERY === 0 && performance.now() - sliceStart >= sliceMs) {
          await pause();
          sliceStart = performance.now();
        }
      }
    }
  });
}
