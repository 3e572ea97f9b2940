/**
 * The PostgreSQL test harness against a real server (Debian's postgresql): databases, a clean restart,
 * a SIGKILL and crash recovery, and a stop (or a dying test process) that leaves nothing running.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPostgres, startPostgres } from './support/postgres.js';
import { isAlive } from './support/processTree.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The error code of a failed connection attempt, or 'connected'. */
async function connectOutcome(url: string): Promise<string> {
  try {
    await query(url, 'SELECT 1');
    return 'connected';
  } catch (err) {
    return String((err as NodeJS.ErrnoException).code);
  }
}

function ownerUid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

const timings: Record<string, number> = {};
async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  timings[name] = Math.round(performance.now() - started);
  return result;
}

describe('startPostgres', () => {
  let server: RunningPostgres | undefined;
  let alpha = '';
  let beta = '';

  beforeAll(async () => {
    server = await timed('start (initdb + pg_ctl start + createdb)', () => startPostgres());
  });

  afterAll(async () => {
    await server?.stop();
    console.log(`postgres harness timings (ms): ${JSON.stringify(timings)}`);
  });

  function running(): RunningPostgres {
    if (!server) throw new Error('postgres not started');
    return server;
  }

  it('runs a server on a loopback port, as the postgres user when the tests run as root', async () => {
    const pgs = running();
    expect(pgs.url).toBe(`postgres://spendline@127.0.0.1:${pgs.port}/spendline`);
    expect(existsSync(join(pgs.dataDir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(pgs.dataDir, `.s.PGSQL.${pgs.port}`))).toBe(true);
    const [postmaster] = pgs.processIds();
    if (postmaster === undefined) throw new Error('no postmaster');
    if (process.getuid?.() === 0) {
      expect(ownerUid(postmaster)).toBe(statSync(pgs.dataDir).uid);
      expect(ownerUid(postmaster)).not.toBe(0);
    } else {
      expect(ownerUid(postmaster)).toBe(process.getuid?.());
    }
    const [row] = await query<{ db: string; usr: string }>(
      pgs.url,
      'SELECT current_database() AS db, current_user AS usr',
    );
    expect(row).toEqual({ db: 'spendline', usr: 'spendline' });
  });

  it('creates separate databases', async () => {
    const pgs = running();
    alpha = await pgs.createDatabase('alpha');
    beta = await pgs.createDatabase('beta');
    expect(alpha).toBe(`postgres://spendline@127.0.0.1:${pgs.port}/alpha`);
    for (const [url, note] of [
      [alpha, 'in alpha'],
      [beta, 'in beta'],
    ] as const) {
      await query(url, 'CREATE TABLE t (id int PRIMARY KEY, note text NOT NULL)');
      await query(url, 'INSERT INTO t VALUES (1, $1)', [note]);
    }
    expect(await query(alpha, 'SELECT id, note FROM t')).toEqual([{ id: 1, note: 'in alpha' }]);
    expect(await query(beta, 'SELECT id, note FROM t')).toEqual([{ id: 1, note: 'in beta' }]);
    await expect(pgs.createDatabase('alpha')).rejects.toThrow(/already exists/);
  });

  it('restarts cleanly on the same port and data', async () => {
    const pgs = running();
    const before = pgs.processIds();
    await timed('restart (pg_ctl stop -m fast + start)', () => pgs.restart());
    const after = pgs.processIds();
    expect(after[0]).not.toBe(before[0]);
    expect(before.some(isAlive)).toBe(false);
    expect(await query(alpha, 'SELECT id, note FROM t')).toEqual([{ id: 1, note: 'in alpha' }]);
    expect(await query(beta, 'SELECT id, note FROM t')).toEqual([{ id: 1, note: 'in beta' }]);
  });

  it('kill() SIGKILLs every server process; start() recovers every committed row', async () => {
    const pgs = running();
    await query(alpha, "INSERT INTO t VALUES (2, 'committed before the kill')");
    const before = pgs.processIds();
    expect(before.length).toBeGreaterThan(1);
    await pgs.kill();
    expect(before.filter(isAlive)).toEqual([]);
    expect(pgs.isRunning()).toBe(false);
    expect(await connectOutcome(alpha)).toBe('ECONNREFUSED');
    await timed('start after kill (crash recovery)', () => pgs.start());
    expect(pgs.logTail()).toMatch(/not properly shut down; automatic recovery in progress/);
    expect(await query(alpha, 'SELECT id, note FROM t ORDER BY id')).toEqual([
      { id: 1, note: 'in alpha' },
      { id: 2, note: 'committed before the kill' },
    ]);
  });

  it('stop() leaves no server process and no temp dir, and can be called twice', async () => {
    const pgs = running();
    const pids = pgs.processIds();
    expect(pids.length).toBeGreaterThan(1);
    await pgs.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(dirname(pgs.dataDir))).toBe(false);
    expect(await connectOutcome(pgs.url)).toBe('ECONNREFUSED');
    await pgs.stop();
    await expect(pgs.start()).rejects.toThrow(/after stop/);
  });

  it('fails with the install hint, never skips, when PostgreSQL is missing', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'spendline-nopg-'));
    const saved = process.env.SPENDLINE_PG_BIN;
    process.env.SPENDLINE_PG_BIN = empty;
    try {
      await expect(startPostgres()).rejects.toThrow(
        /PostgreSQL is not installed.*scripts\/install-system-deps\.sh/,
      );
    } finally {
      if (saved === undefined) delete process.env.SPENDLINE_PG_BIN;
      else process.env.SPENDLINE_PG_BIN = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

/**
 * A test process that ends without calling stop() (an uncaught error, or the SIGTERM vitest sends a
 * worker it tears down) still takes its server and temp dir with it. The harness runs in a plain Node
 * child, transpiled with TypeScript into a temp tree that mirrors the repository layout.
 */
describe('startPostgres in a process that dies without stop()', () => {
  let tree = '';

  beforeAll(() => {
    tree = mkdtempSync(join(tmpdir(), 'spendline-pgchild-'));
    writeFileSync(join(tree, 'package.json'), '{"type":"module"}');
    for (const file of [
      'sidecar/test/support/postgres.ts',
      'sidecar/test/support/processTree.ts',
      'test/support/ports.ts',
    ]) {
      const out = ts.transpileModule(readFileSync(join(REPO_ROOT, file), 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      });
      const target = join(tree, file.replace(/\.ts$/, '.js'));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, out.outputText);
    }
    writeFileSync(
      join(tree, 'child.mjs'),
      `import { startPostgres } from './sidecar/test/support/postgres.js';
const pg = await startPostgres();
console.log(JSON.stringify({ pids: pg.processIds(), dataDir: pg.dataDir }));
if (process.argv[2] === 'throw') throw new Error('a failing test');
setInterval(() => {}, 1000);
`,
    );
  });

  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  for (const ending of ['throw', 'SIGTERM'] as const) {
    it(`cleans up on ${ending === 'throw' ? 'an uncaught error' : 'SIGTERM'}`, async () => {
      const child = spawn(process.execPath, ['child.mjs', ending], {
        cwd: tree,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const deadline = Date.now() + 50_000;
      while (!out.includes('"pids"') && child.exitCode === null && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const line = out.split('\n').find((l) => l.startsWith('{"pids"'));
      if (line === undefined) {
        child.kill('SIGKILL');
        throw new Error(`child did not start PostgreSQL:\n${out}`);
      }
      const started = JSON.parse(line) as { pids: number[]; dataDir: string };
      expect(started.pids.length).toBeGreaterThan(1);
      if (ending === 'SIGTERM') child.kill('SIGTERM');
      const end = await exited;
      if (ending === 'throw') {
        expect(end.code).toBe(1);
        expect(out).toContain('a failing test');
      } else {
        expect(end.signal).toBe('SIGTERM');
      }
      try {
        const gone = Date.now() + 20_000;
        while (started.pids.some(isAlive) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
        expect(started.pids.filter(isAlive)).toEqual([]);
        expect(existsSync(dirname(started.dataDir))).toBe(false);
      } finally {
        // When the harness failed to clean up, do it here so the failure leaves nothing running.
        for (const pid of started.pids.filter(isAlive)) process.kill(pid, 'SIGKILL');
        rmSync(dirname(started.dataDir), { recursive: true, force: true });
      }
    });
  }
});
