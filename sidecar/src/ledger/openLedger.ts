import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type LedgerDb = Database.Database;

/** Page size of a new ledger, in bytes. */
export const LEDGER_PAGE_SIZE = 16384;

/**
 * Opens (creating if needed) the ledger database in WAL mode and applies pending migrations, each in
 * its own transaction, recording the version in `PRAGMA user_version`.
 *
 * A new ledger gets 16 KiB pages (SQLite's default is 4 KiB): a batch upserts rows all over the
 * session and principal indexes, and every page it touches is written to the WAL and again by the
 * checkpoint; with 16 KiB pages a 1 M-record ingest wrote 655 MB instead of 770 MB and took ~5 % less
 * time (docs/performance.md). SQLite sets the page size only while the file is empty and not in WAL
 * mode, so a ledger created before keeps its 4 KiB pages (the pragma is then a no-op).
 * `:memory:` opens a private in-memory ledger (tests).
 */
export function openLedgerDb(path: string, options: { readonly?: boolean } = {}): LedgerDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: options.readonly ?? false });
  if (!options.readonly) {
    db.pragma(`page_size = ${LEDGER_PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    applyMigrations(db, MIGRATIONS);
  }
  return db;
}

export function applyMigrations(db: LedgerDb, migrations: readonly Migration[]): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > newest) {
    throw new Error(
      `ledger schema version ${current} is newer than this spendline (${newest}); upgrade spendline`,
    );
  }
  const pending = [...migrations].filter((m) => m.version > current).sort((a, b) => a.version - b.version);
  for (const migration of pending) {
    db.transaction(() => {
      db.exec(migration.sql);
      migration.up?.(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return pending.length;
}
