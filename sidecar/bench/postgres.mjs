// A throwaway PostgreSQL server for the benchmark (the tests have their own harness in
// test/support/postgres.ts): initdb + pg_ctl in a temporary directory on a loopback port, as the
// `postgres` user when run as root. Default settings (fsync and synchronous_commit on), so a commit
// costs what it costs in production.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function binDir() {
  if (process.env.SPENDLINE_PG_BIN) return process.env.SPENDLINE_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => b - a)
    : [];
  if (versions.length === 0)
    throw new Error('PostgreSQL is not installed: run scripts/install-system-deps.sh');
  return join(root, versions[0], 'bin');
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startBenchPostgres() {
  const bin = binDir();
  const asRoot = process.getuid?.() === 0;
  const user = asRoot
    ? {
        uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
        gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
      }
    : {};
  const root = mkdtempSync(join(tmpdir(), 'spendline-bench-pg-'));
  if (asRoot) chownSync(root, user.uid, user.gid);
  const data = join(root, 'data');
  const run = (cmd, args) => {
    const r = spawnSync(join(bin, cmd), args, { ...user, cwd: root, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'spendline', '-E', 'UTF8']);
  const port = await freePort();
  run('pg_ctl', [
    '-D',
    data,
    '-o',
    `-p ${port} -k ${root} -c listen_addresses=127.0.0.1`,
    '-l',
    join(root, 'log'),
    '-w',
    'start',
  ]);
  let n = 0;
  return {
    async createDatabase() {
      const { default: pg } = await import('pg');
      const name = `bench_${++n}`;
      const c = new pg.Client({ connectionString: `postgres://spendline@127.0.0.1:${port}/postgres` });
      await c.connect();
      await c.query(`CREATE DATABASE ${name}`);
      await c.end();
      return `postgres://spendline@127.0.0.1:${port}/${name}`;
    },
    stop() {
      spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop'], { ...user, cwd: root });
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * An existing PostgreSQL server instead of a local one (BENCH_PG_URL): e.g. on another host or on a
 * machine with more cores, to measure three sidecars against one where they do not share two cores
 * with the database. The role needs CREATEDB; each round gets a fresh database, dropped at the end.
 */
export async function connectBenchPostgres(url) {
  const { default: pg } = await import('pg');
  const created = [];
  const admin = async (sql) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  return {
    async createDatabase() {
      const name = `spendline_bench_${process.pid}_${created.length + 1}`;
      await admin(`CREATE DATABASE ${name}`);
      created.push(name);
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    },
    async stop() {
      for (const name of created) await admin(`DROP DATABASE IF EXISTS ${name}`).catch(() => {});
    },
  };
}
