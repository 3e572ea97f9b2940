import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type LedgerDb = Database.Database;

/**
 * Opens (creating if needed) the ledger database in WAL mode and applies pending migrations, each in
 * its own transaction, recording the version in `PRAGMA user_version`.
 * `:memory:` opens a private in-memory ledger (tests).
 */
export function openLedgerDb(path: string, options: { readonly?: boolean } = {}): LedgerDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: options.readonly ?? false });
  if (!options.readonly) {
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
