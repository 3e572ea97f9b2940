/**
 * A new ledger is created with 16 KiB pages (fewer pages written per batch: docs/performance.md); a
 * ledger created before, with SQLite's default 4 KiB pages, opens, migrates and takes writes as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../src/ledger/migrations.js';
import { LEDGER_PAGE_SIZE, openLedgerDb } from '../src/ledger/openLedger.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spendline-pages-'));
  dirs.push(dir);
  return join(dir, 'ledger.sqlite');
}

const newest = Math.max(...MIGRATIONS.map((m) => m.version));

describe('ledger page size', () => {
  it('creates a new ledger with 16 KiB pages, in WAL mode, fully migrated', () => {
    const path = tempPath();
    const db = openLedgerDb(path);
    expect(LEDGER_PAGE_SIZE).toBe(16384);
    expect(db.pragma('page_size', { simple: true })).toBe(LEDGER_PAGE_SIZE);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(newest);
    db.close();
    // Opened again: the same pages.
    const again = openLedgerDb(path);
    expect(again.pragma('page_size', { simple: true })).toBe(LEDGER_PAGE_SIZE);
    again.close();
  });

  it('keeps an existing 4 KiB-page ledger as it is: migrated, written, its rows intact', () => {
    const path = tempPath();
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE kept (v INTEGER)');
    old.prepare('INSERT INTO kept (v) VALUES (?)').run(42);
    expect(old.pragma('page_size', { simple: true })).toBe(4096);
    old.close();
    const db = openLedgerDb(path);
    expect(db.pragma('page_size', { simple: true })).toBe(4096);
    expect(db.pragma('user_version', { simple: true })).toBe(newest);
    expect(db.prepare('SELECT v FROM kept').pluck().get()).toBe(42);
    db.prepare(
      "INSERT INTO usage_total (kind, key, first_seen_ms, last_seen_ms) VALUES ('session', 's-1', 1, 2)",
    ).run();
    expect(db.prepare("SELECT count(*) FROM usage_total WHERE kind = 'session'").pluck().get()).toBe(1);
    db.close();
  });
});
