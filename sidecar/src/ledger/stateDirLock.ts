import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** The lock file inside a state directory (a tiny SQLite database nobody reads). */
export const LOCK_FILE = 'sidecar.lock';
/** Beside it: the holder's pid, for the refusal message only (the lock itself is the OS lock). */
export const LOCK_PID_FILE = 'sidecar.lock.pid';

export interface StateDirLock {
  /** Releases the lock (also released by the OS when the process dies, however it dies). */
  release(): void;
}

/** Thrown when another process holds the state directory; `spendline sidecar` and `up` exit 2 on it. */
export class StateDirLockedError extends Error {
  constructor(
    readonly stateDir: string,
    readonly holderPid: number | undefined,
  ) {
    super(
      `state dir ${stateDir} is in use by another spendline process${
        holderPid !== undefined ? ` (pid ${holderPid})` : ''
      }: two counting processes on one ledger would count every record twice. Stop it, or give this one its own --state-dir.`,
    );
    this.name = 'StateDirLockedError';
  }
}

/** The state directory cannot be created or written: one line naming it and how to choose another. */
export class StateDirUnwritableError extends Error {
  constructor(stateDir: string, cause: unknown) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    const reason =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EROFS'
          ? 'read-only file system'
          : code === 'ENOTDIR' || code === 'EEXIST'
            ? 'a file is in the way'
            : cause instanceof Error
              ? cause.message
              : String(cause);
    super(
      `the state directory ${stateDir} cannot be written (${reason}); choose a writable one with --state-dir DIR (or SPENDLINE_STATE_DIR)`,
    );
    this.name = 'StateDirUnwritableError';
  }
}

/** Creates the state directory if needed and checks that this process can write in it. */
export function prepareStateDir(stateDir: string): void {
  try {
    mkdirSync(stateDir, { recursive: true });
    accessSync(stateDir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new StateDirUnwritableError(stateDir, err);
  }
}

/**
 * Takes the state directory for this process, or throws StateDirLockedError. The lock is SQLite's
 * exclusive lock (POSIX fcntl on Unix, LockFileEx on Windows) on a dedicated file, held by a
 * connection in `locking_mode = EXCLUSIVE`: the kernel drops it when the process exits or is
 * SIGKILLed, so a crash never leaves a stale lock. It is a separate file, so commands that read the
 * ledger (report, insights, reconcile) are not blocked. Within one process a second take also fails
 * (SQLite tracks locks per inode in-process).
 */
export function lockStateDir(stateDir: string): StateDirLock {
  prepareStateDir(stateDir);
  const db = new Database(join(stateDir, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // A write transaction takes the EXCLUSIVE lock; in this locking mode it is kept after COMMIT.
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS lock_holder (pid INTEGER); COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY')
      throw new StateDirLockedError(stateDir, readHolderPid(stateDir));
    throw err;
  }
  try {
    writeFileSync(join(stateDir, LOCK_PID_FILE), `${process.pid}\n`);
  } catch {
    // The pid only improves the refusal message; the lock already holds.
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      db.close();
    },
  };
}

function readHolderPid(stateDir: string): number | undefined {
  try {
    const text = readFileSync(join(stateDir, LOCK_PID_FILE), 'utf8').trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}
