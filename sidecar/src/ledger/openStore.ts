import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLedgerDb } from './openLedger.js';
import { openPgStore, redactUrl } from './pgStore.js';
import { sqliteStore } from './sqliteStore.js';
import type { LedgerStore } from './store.js';

/** The SQLite ledger file inside a state directory (the default ledger). */
export function sqlitePathOf(stateDir: string): string {
  return join(stateDir, 'ledger.sqlite');
}

/** `--ledger` value, else `SPENDLINE_LEDGER_URL`, else undefined (the state directory's SQLite file). */
export function ledgerUrlOf(flag: string | undefined): string | undefined {
  const v = flag ?? process.env.SPENDLINE_LEDGER_URL;
  return v === undefined || v === '' ? undefined : v;
}

/** A PostgreSQL ledger URL, checked; an error message otherwise. */
export function checkLedgerUrl(url: string): { ok: true } | { ok: false; reason: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return {
      ok: false,
      reason: 'the ledger URL is not a URL (expected postgres://user[:password]@host[:port]/database)',
    };
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    return {
      ok: false,
      reason: `the ledger URL must be postgres:// or postgresql:// (got ${u.protocol}); without one the ledger is SQLite in the state directory`,
    };
  if (u.hostname === '' && !u.searchParams.has('host'))
    return { ok: false, reason: `the ledger URL names no host: ${redactUrl(url)}` };
  return { ok: true };
}

const SIDECAR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function checkSidecarId(id: string): { ok: true } | { ok: false; reason: string } {
  return SIDECAR_ID.test(id)
    ? { ok: true }
    : {
        ok: false,
        reason: `--sidecar-id must be 1-63 letters, digits, '.', '_' or '-' (starting with a letter or digit), got ${JSON.stringify(id)}`,
      };
}

/**
 * This sidecar's identity on a shared ledger: the given id, else the one kept in
 * `<state-dir>/sidecar-id`, else a new random one written there (so it survives restarts).
 */
export function sidecarIdOf(stateDir: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const file = join(stateDir, 'sidecar-id');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    const ok = checkSidecarId(id);
    if (!ok.ok) throw new Error(`${file}: ${ok.reason}`);
    return id;
  }
  mkdirSync(stateDir, { recursive: true });
  const id = `sidecar-${randomBytes(6).toString('hex')}`;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${id}\n`);
  renameSync(tmp, file);
  return id;
}

export interface OpenLedgerOptions {
  /** A PostgreSQL URL; undefined = SQLite in `stateDir`. */
  url: string | undefined;
  stateDir: string;
  /** The counting sidecar: its identity (PostgreSQL), held for the life of the store. */
  sidecarId?: string;
  /** Refuse a missing SQLite file instead of creating it (report commands). */
  mustExist?: boolean;
}

/** Opens the ledger: PostgreSQL when a URL is given, else the state directory's SQLite file. */
export async function openLedgerStore(options: OpenLedgerOptions): Promise<LedgerStore> {
  if (options.url !== undefined) {
    const ok = checkLedgerUrl(options.url);
    if (!ok.ok) throw new Error(ok.reason);
    return openPgStore({
      url: options.url,
      sidecarId: options.sidecarId ?? 'reader',
      holdIdentity: options.sidecarId !== undefined,
    });
  }
  const path = sqlitePathOf(options.stateDir);
  if (options.mustExist === true && !existsSync(path))
    throw new Error(`no ledger at ${path} (is --state-dir right? the sidecar creates it)`);
  return sqliteStore(openLedgerDb(path), path);
}
