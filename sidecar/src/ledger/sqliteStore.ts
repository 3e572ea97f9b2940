import type Database from 'better-sqlite3';
import { yieldToLoop } from '../eventLoop.js';
import { prepared, runWrites, type WriteOp, withTransaction } from './ledgerWriter.js';
import type { LedgerDb } from './openLedger.js';
import type { SqlParams } from './sqlText.js';
import type { BatchClaim, BatchResult, Dialect, LedgerQueries, LedgerStore, QueryOptions } from './store.js';

export const SQLITE_DIALECT: Dialect = {
  hourLabel: (c) => `strftime('%Y-%m-%dT%H:00:00Z', ${c}, 'unixepoch')`,
  dayLabel: (c) => `strftime('%Y-%m-%d', ${c} - (${c} % 86400), 'unixepoch')`,
  // 1970-01-01 was a Thursday: (days + 3) % 7 is the days since Monday.
  weekLabel: (c) =>
    `strftime('%Y-%m-%d', ${c} - (${c} % 86400) - ((${c} / 86400 + 3) % 7) * 86400, 'unixepoch')`,
  monthLabel: (c) => `strftime('%Y-%m', ${c}, 'unixepoch')`,
  like: 'LIKE',
};

/**
 * A batch commit's statements run in slices of about this long, the event loop running between them
 * (see `runWrites`): a large batch costs no long stall.
 */
export const COMMIT_SLICE_MS = 15;

/**
 * The SQLite ledger behind `LedgerStore`. better-sqlite3 is synchronous: every call runs at once and
 * resolves; `transaction` and `commitBatch` hold the connection (other calls wait) until they
 * settle, so no statement from elsewhere lands inside them.
 */
export function sqliteStore(
  db: LedgerDb,
  location: string,
  options: { commitSliceMs?: number } = {},
): LedgerStore & { db: LedgerDb } {
  const sliceMs = options.commitSliceMs ?? COMMIT_SLICE_MS;
  const prepare = (sql: string): Database.Statement => prepared(db, sql);
  // Serialises transactions against everything else (a transaction's function may await). Every
  // waiter re-checks `inTransaction` and acts in the same tick it finds it false (`while (…) await
  // busy` inline, never behind another await), so two waiters cannot both start.
  let busy: Promise<void> = Promise.resolve();
  let inTransaction = false;

  const bind = (params: SqlParams | undefined): unknown[] =>
    params === undefined ? [] : Array.isArray(params) ? (params as unknown[]) : [params];

  const direct: LedgerQueries = {
    async all<T>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<T[]> {
      const st = prepare(sql);
      return st.safeIntegers(options?.bigint === true).all(...bind(params)) as T[];
    },
    async get<T>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<T | undefined> {
      const st = prepare(sql);
      return st.safeIntegers(options?.bigint === true).get(...bind(params)) as T | undefined;
    },
    async value<T>(sql: string, params?: SqlParams, options?: QueryOptions): Promise<T | undefined> {
      const st = prepare(sql);
      const row = st
        .safeIntegers(options?.bigint === true)
        .raw(true)
        .get(...bind(params)) as unknown[] | undefined;
      st.raw(false);
      return row === undefined ? undefined : (row[0] as T);
    },
    async run(sql: string, params?: SqlParams): Promise<number> {
      return prepare(sql).run(...bind(params)).changes;
    },
    // A transaction is BEGIN IMMEDIATE: it already holds the ledger's one write lock.
    async lock(): Promise<void> {},
  };

  /** Runs `fn` holding the connection: every other call waits until it settles. */
  async function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (inTransaction) await busy;
    inTransaction = true;
    let release!: () => void;
    busy = new Promise((r) => {
      release = r;
    });
    try {
      return await fn();
    } finally {
      inTransaction = false;
      release();
    }
  }

  const guarded =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      while (inTransaction) await busy;
      return f(...a);
    };

  return {
    kind: 'sqlite',
    location,
    dialect: SQLITE_DIALECT,
    sidecarId: 'local',
    db,
    all: guarded(direct.all) as LedgerQueries['all'],
    get: guarded(direct.get) as LedgerQueries['get'],
    value: guarded(direct.value) as LedgerQueries['value'],
    run: guarded(direct.run),
    lock: direct.lock,
    transaction<T>(fn: (tx: LedgerQueries) => Promise<T>): Promise<T> {
      return exclusive(() => withTransaction(db, () => fn(direct)));
    },
    async commitBatch(ops: WriteOp[], claim: BatchClaim | null): Promise<BatchResult> {
      const all: WriteOp[] = [];
      if (claim !== null) {
        all.push(['DELETE FROM dedup_batch WHERE seen_ms < ?', [[claim.expireBeforeMs]]]);
        if (claim.hashes.length > 0)
          all.push([
            'INSERT INTO dedup_batch (seen_ms, hashes) VALUES (?, ?)',
            [[claim.nowMs, claim.hashes]],
          ]);
      }
      all.push(...ops);
      await exclusive(() => runWrites(db, all, sliceMs, yieldToLoop));
      return { ok: true };
    },
    async close(): Promise<void> {
      if (db.open) db.close();
    },
  };
}
