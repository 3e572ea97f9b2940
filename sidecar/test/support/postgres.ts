/**
 * A real PostgreSQL server for tests: initdb + pg_ctl in a temporary directory, on a loopback port
 * (as the `postgres` user when the tests run as root: PostgreSQL refuses root). Fails, never skips,
 * when PostgreSQL is missing (scripts/install-system-deps.sh installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface RunningPostgres {
  url: string;
  port: number;
  dataDir: string;
  /** Creates an empty database; resolves to its URL. */
  createDatabase(name: string): Promise<string>;
  start(): void;
  /** pg_ctl stop -m fast, then start again on the same port and data. */
  restart(): void;
  /** SIGKILL of the postmaster (the server is down until `start`). */
  kill(): void;
  stop(): void;
}

function binDir(): string {
  const given = process.env.SPENDLINE_PG_BIN;
  if (given !== undefined && given !== '') return given;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(
      'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/install-system-deps.sh',
    );
  return join(root, versions[0] as string, 'bin');
}

function asPostgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const running = new Set<RunningPostgres>();
process.once('exit', () => {
  for (const p of running) p.stop();
});

export async function startPostgres(): Promise<RunningPostgres> {
  const bin = binDir();
  const user = asPostgresUser();
  const root = mkdtempSync(join(tmpdir(), 'spendline-pg-'));
  const dataDir = join(root, 'data');
  if (user !== undefined) chownSync(root, user.uid, user.gid);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(join(bin, cmd), args, {
      ...(user ?? {}),
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'spendline', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  let up = false;
  const self: RunningPostgres = {
    url: `postgres://spendline@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async createDatabase(name: string) {
      const client = new pg.Client({ connectionString: self.url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      return `postgres://spendline@127.0.0.1:${port}/${name}`;
    },
    start() {
      run('pg_ctl', ['-D', dataDir, '-o', opts, '-l', join(root, 'log'), '-w', '-t', '120', 'start']);
      up = true;
    },
    restart() {
      run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '120', 'stop']);
      self.start();
    },
    kill() {
      const pid = Number(
        execFileSync('head', ['-1', join(dataDir, 'postmaster.pid'), '--'], { encoding: 'utf8' }).trim(),
      );
      process.kill(pid, 'SIGKILL');
      up = false;
    },
    stop() {
      if (up)
        spawnSync(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop'], {
          ...(user ?? {}),
          cwd: root,
        });
      up = false;
      running.delete(self);
      rmSync(root, { recursive: true, force: true });
    },
  };
  running.add(self);
  self.start();
  return self;
}
