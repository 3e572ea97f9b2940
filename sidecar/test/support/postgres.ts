/**
 * A real PostgreSQL server for tests: `initdb` in its own temp dir, `pg_ctl` on a free loopback port
 * (Unix socket in the data dir), trust auth, always removed. As root the server runs as the `postgres`
 * user (PostgreSQL refuses root). Usage:
 * `const pg = await startPostgres(); try { … pg.url … } finally { await pg.stop(); }`
 * Cleanup is also registered on process exit and on SIGTERM/SIGINT/SIGHUP, so a failed or killed test
 * run leaves no postmaster behind. Needs Debian's `postgresql` (`scripts/install-system-deps.sh`) or
 * `SPENDLINE_PG_BIN` naming a directory with `initdb`, `pg_ctl` and `createdb`; never skips without it.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../test/support/ports.js';
import { childrenOf, isAlive, killAll, waitGone } from './processTree.js';

export interface PostgresOptions {
  /** The database created at start and named in `url` (default `spendline`). */
  database?: string;
  /** The superuser `initdb` creates; loopback and socket connections are trusted (default `spendline`). */
  user?: string;
  /**
   * fsync on (default off). A killed server loses nothing either way (the OS keeps what it wrote);
   * benchmarks turn it on to measure a durable server.
   */
  fsync?: boolean;
  /** Extra server settings, passed as `-c name=value`. */
  settings?: Record<string, string>;
}

export interface RunningPostgres {
  /** `postgres://user@127.0.0.1:port/database` */
  url: string;
  host: '127.0.0.1';
  port: number;
  user: string;
  database: string;
  dataDir: string;
  /** The URL of another database on this server. */
  urlFor(database: string): string;
  /** Creates a database (a name of [a-z_][a-z0-9_]*) and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Starts the server again after `kill()` (crash recovery runs), on the same port and data. */
  start(): Promise<void>;
  /** A clean restart: `pg_ctl stop -m fast`, then start on the same port and data. */
  restart(): Promise<void>;
  /** SIGKILLs the postmaster and its children (a crash); resolves when none is left, reaped. */
  kill(): Promise<void>;
  /** Immediate shutdown and removal of the temp dir; idempotent. */
  stop(): Promise<void>;
  isRunning(): boolean;
  /** The postmaster's PID first, then its children's; empty when it is not running. */
  processIds(): number[];
  /** The end of the server log, for failure messages. */
  logTail(): string;
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;
// Budgets for a machine 4x slower than the one measured (initdb 0.7 s, start 0.15 s).
const INITDB_TIMEOUT_MS = 60_000;
const PG_CTL_WAIT_S = 45;
const EXIT_TIMEOUT_MS = 20_000;

/** The directory holding `initdb`, `pg_ctl` and `createdb`: `SPENDLINE_PG_BIN`, else Debian's newest. */
export function findPostgresBin(): string {
  const fromEnv = process.env.SPENDLINE_PG_BIN;
  const hint =
    'run scripts/install-system-deps.sh (Debian package postgresql) or set SPENDLINE_PG_BIN to the directory holding initdb and pg_ctl';
  const complete = (dir: string) => ['initdb', 'pg_ctl', 'createdb'].every((b) => existsSync(join(dir, b)));
  if (fromEnv !== undefined && fromEnv !== '') {
    if (complete(fromEnv)) return fromEnv;
    throw new Error(
      `PostgreSQL is not installed: SPENDLINE_PG_BIN=${fromEnv} lacks initdb/pg_ctl/createdb; ${hint}`,
    );
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const found = versions.map((v) => join(root, v, 'bin')).find(complete);
  if (found === undefined) throw new Error(`PostgreSQL is not installed (no ${root}/*/bin/initdb): ${hint}`);
  return found;
}

/** uid/gid of the `postgres` user, from /etc/passwd (used when the tests run as root). */
function postgresAccount(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error(
      'running as root, PostgreSQL needs the postgres user, which does not exist: run scripts/install-system-deps.sh (Debian package postgresql creates it)',
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a PostgreSQL program to completion within `timeoutMs` (SIGKILLed past it). */
function run(
  binary: string,
  args: string[],
  options: { cwd: string; timeoutMs: number; account?: { uid: number; gid: number } },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options.account,
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') output += `\n(killed after ${options.timeoutMs} ms)`;
      resolve({ code, output });
    });
  });
}

/** Servers not stopped yet, torn down synchronously if the process exits or is signalled. */
const live = new Set<{ emergencyStop(): void }>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const stopAll = () => {
    for (const server of live) server.emergencyStop();
  };
  process.on('exit', stopAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopAll();
      // Keep the signal's default action (terminate) unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

export async function startPostgres(options: PostgresOptions = {}): Promise<RunningPostgres> {
  const user = options.user ?? 'spendline';
  const database = options.database ?? 'spendline';
  for (const name of [user, database]) {
    if (!NAME.test(name)) throw new Error(`startPostgres: ${JSON.stringify(name)} is not a plain name`);
  }
  for (const [key, value] of Object.entries(options.settings ?? {})) {
    if (!/^[a-z_.]+$/.test(key) || !/^[\w.:-]+$/.test(value)) {
      throw new Error(`startPostgres: setting ${key}=${value} is not a plain name=value`);
    }
  }
  const bin = findPostgresBin();
  const account = process.getuid?.() === 0 ? postgresAccount() : undefined;
  const baseDir = mkdtempSync(join(tmpdir(), 'spendline-pg-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'server.log');
  if (!/^[\w./-]+$/.test(baseDir)) {
    rmSync(baseDir, { recursive: true, force: true });
    throw new Error(`startPostgres: temp dir ${baseDir} has characters pg_ctl -o cannot take; set TMPDIR`);
  }
  if (account) chownSync(baseDir, account.uid, account.gid);

  let port = 0;
  let stopped = false;
  const pidFile = join(dataDir, 'postmaster.pid');
  const postmasterPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const processIds = (): number[] => {
    const pid = postmasterPid();
    return pid === undefined ? [] : [pid, ...childrenOf(pid)];
  };
  const logTail = (): string => {
    try {
      return readFileSync(logFile, 'utf8').slice(-4000);
    } catch {
      return '(no server log)';
    }
  };
  const handle = {
    emergencyStop(): void {
      killAll(processIds());
      rmSync(baseDir, { recursive: true, force: true });
      live.delete(handle);
    },
  };
  live.add(handle);
  installExitHooks();

  const runHere = (program: string, args: string[], timeoutMs: number, asOwner = true) =>
    run(join(bin, program), args, { cwd: baseDir, timeoutMs, ...(asOwner && account ? { account } : {}) });
  const pgCtl = async (args: string[]) => {
    const r = await runHere('pg_ctl', ['-D', dataDir, '-w', '-t', String(PG_CTL_WAIT_S), ...args], 60_000);
    if (r.code !== 0) throw new Error(`pg_ctl ${args.at(-1)} failed (${r.code}): ${r.output}\n${logTail()}`);
  };
  const serverOptions = () =>
    [
      `-p ${port}`,
      `-k ${dataDir}`,
      '-c listen_addresses=127.0.0.1',
      `-c fsync=${options.fsync === true ? 'on' : 'off'}`,
      ...Object.entries(options.settings ?? {}).map(([k, v]) => `-c ${k}=${v}`),
    ].join(' ');
  const urlFor = (db: string) => `postgres://${user}@127.0.0.1:${port}/${db}`;

  const start = async () => {
    if (stopped) throw new Error('startPostgres: start() after stop(): the data dir is gone');
    if (postmasterPid() !== undefined) return;
    await pgCtl(['-l', logFile, '-o', serverOptions(), 'start']);
  };

  try {
    const init = await runHere(
      'initdb',
      ['-D', dataDir, '-A', 'trust', '-U', user, '--no-locale', '-E', 'UTF8', '--no-sync'],
      INITDB_TIMEOUT_MS,
    );
    if (init.code !== 0) {
      const hint = account ? ` (as root it runs as postgres: ${baseDir} must be reachable by that user)` : '';
      throw new Error(`initdb failed (${init.code})${hint}: ${init.output}`);
    }
    // freePort releases the port before the server binds it: retry when another process took it.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      if (`${dataDir}/.s.PGSQL.${port}`.length > 100) {
        throw new Error(
          `startPostgres: socket path under ${dataDir} is too long for a Unix socket; set TMPDIR`,
        );
      }
      try {
        await start();
        break;
      } catch (err) {
        if (attempt >= 3 || !/Address already in use/.test(logTail())) throw err;
      }
    }
    const created = await runHere(
      'createdb',
      ['-h', '127.0.0.1', '-p', String(port), '-U', user, database],
      EXIT_TIMEOUT_MS,
      false,
    );
    if (created.code !== 0) throw new Error(`createdb ${database} failed: ${created.output}`);
  } catch (err) {
    handle.emergencyStop();
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}`);
  }

  return {
    url: urlFor(database),
    host: '127.0.0.1',
    port,
    user,
    database,
    dataDir,
    urlFor,
    async createDatabase(name) {
      if (!NAME.test(name)) throw new Error(`createDatabase: ${JSON.stringify(name)} is not a plain name`);
      const r = await runHere(
        'createdb',
        ['-h', '127.0.0.1', '-p', String(port), '-U', user, name],
        EXIT_TIMEOUT_MS,
        false,
      );
      if (r.code !== 0) throw new Error(`createdb ${name} failed (${r.code}): ${r.output}`);
      return urlFor(name);
    },
    start,
    async restart() {
      if (postmasterPid() !== undefined) await pgCtl(['-m', 'fast', 'stop']);
      await start();
    },
    async kill() {
      const pids = processIds();
      killAll(pids);
      await waitGone(pids, EXIT_TIMEOUT_MS, true);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const pids = processIds();
      if (pids.length > 0) {
        const r = await runHere(
          'pg_ctl',
          ['-D', dataDir, '-m', 'immediate', '-w', '-t', String(PG_CTL_WAIT_S), 'stop'],
          60_000,
        );
        if (r.code !== 0) killAll(pids);
        await waitGone(pids, EXIT_TIMEOUT_MS).catch(() => killAll(pids));
      }
      handle.emergencyStop();
    },
    isRunning: () => postmasterPid() !== undefined,
    processIds,
    logTail,
  };
}
