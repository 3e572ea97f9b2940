/**
 * Runs a suite against both ledger backends: `describe.each(LEDGER_BACKENDS)(…, (kind) => { const
 * ledgers = testLedgers(kind); … await ledgers.open() … })`. SQLite ledgers are in memory; PostgreSQL
 * ledgers are fresh databases on one real server per test file (started on first use, stopped after
 * the file).
 */
import { afterAll } from 'vitest';
import { openLedgerDb } from '../../src/ledger/openLedger.js';
import { openPgStore } from '../../src/ledger/pgStore.js';
import { sqliteStore } from '../../src/ledger/sqliteStore.js';
import type { LedgerKind, LedgerStore } from '../../src/ledger/store.js';
import { type RunningPostgres, startPostgres } from './postgres.js';

export const LEDGER_BACKENDS: LedgerKind[] = ['sqlite', 'postgres'];

let server: Promise<RunningPostgres> | undefined;
let databases = 0;
// Registered when the test file imports this module, so it runs after the whole file (a hook
// registered inside a describe would stop the server after that describe only).
afterAll(async () => {
  const s = server;
  server = undefined;
  if (s !== undefined) await (await s.catch(() => undefined))?.stop();
});

/** The file's PostgreSQL server (started once, stopped after the file). */
export function sharedPostgres(): Promise<RunningPostgres> {
  server ??= startPostgres({ settings: { max_connections: '300' } });
  return server;
}

/** A fresh, empty database URL on the file's PostgreSQL server. */
export async function freshDatabaseUrl(): Promise<string> {
  const pg = await sharedPostgres();
  databases += 1;
  return pg.createDatabase(`t${process.pid}_${databases}`);
}

export function testLedgers(kind: LedgerKind) {
  const opened: LedgerStore[] = [];
  const urls = new WeakMap<LedgerStore, string>();
  if (kind === 'postgres') void sharedPostgres().catch(() => {});
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
  });
  return {
    kind,
    /** A new, empty, migrated ledger of this kind. */
    async open(): Promise<LedgerStore> {
      let store: LedgerStore;
      if (kind === 'sqlite') store = sqliteStore(openLedgerDb(':memory:'), ':memory:');
      else {
        const url = await freshDatabaseUrl();
        store = await openPgStore({ url, sidecarId: 'local' });
        urls.set(store, url);
      }
      opened.push(store);
      return store;
    },
    /** The URL of a PostgreSQL ledger this opened (to open it again, e.g. as another sidecar). */
    urlOf(store: LedgerStore): string {
      const url = urls.get(store);
      if (url === undefined) throw new Error('not a PostgreSQL ledger opened by testLedgers');
      return url;
    },
  };
}
