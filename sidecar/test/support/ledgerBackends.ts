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

// Registered when a test file imports this module, so it runs after the whole file: a hook
// registered on first use would belong to that describe block and stop the server after it.
afterAll(async () => {
  const s = server;
  server = undefined;
  if (s !== undefined) (await s.catch(() => undefined))?.stop();
});

/** The file's PostgreSQL server (started once, stopped after the file). */
export function sharedPostgres(): Promise<RunningPostgres> {
  server ??= startPostgres();
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
  if (kind === 'postgres') void sharedPostgres().catch(() => {});
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
  });
  return {
    kind,
    /** A new, empty, migrated ledger of this kind. */
    async open(): Promise<LedgerStore> {
      const store =
        kind === 'sqlite'
          ? sqliteStore(openLedgerDb(':memory:'), ':memory:')
          : await openPgStore({ url: await freshDatabaseUrl(), sidecarId: 'local' });
      opened.push(store);
      return store;
    },
  };
}
