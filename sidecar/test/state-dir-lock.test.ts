/**
 * One counting process per state dir: a second `spendline sidecar` or `spendline up` on the same
 * --state-dir is refused (exit 2, naming the holder's pid) instead of counting every record a second
 * time; the lock is the kernel's, so a SIGKILLed holder never leaves it stale; read-only ledger
 * commands keep working while a sidecar runs. On a shared PostgreSQL ledger, one sidecar per
 * --sidecar-id: a second one with the same id is refused (exit 2, naming the id).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitForHttpOk } from '../../test/support/ports.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { SidecarIdInUseError } from '../src/ledger/pgStore.js';
import { lockStateDir, StateDirLockedError } from '../src/ledger/stateDirLock.js';
import { freshDatabaseUrl } from './support/ledgerBackends.js';
import { sumSamples } from './support/metricsText.js';
import { generateUsageLines } from './support/otlpLines.js';
import { ledgerTotals, tempDir, truthTotals } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0)) c();
});

interface Spawned {
  child: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
}

function spawnCli(args: string[]): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SPENDLINE_API_TOKEN: '', SPENDLINE_LEDGER_URL: '' },
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exit };
}

async function startSidecar(
  file: string,
  state: string,
  extra: string[] = [],
): Promise<Spawned & { url: string }> {
  const port = await freePort();
  const s = spawnCli([
    'sidecar',
    '--otlp-file',
    file,
    '--state-dir',
    state,
    '--listen',
    `127.0.0.1:${port}`,
    '--first-increment-hold',
    '0s',
    ...extra,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttpOk(`${url}/readyz`, 30_000, () => s.child.exitCode === null);
  return { ...s, url };
}

/** Waits (bounded) for an exit code; a process still running after the budget is a failure. */
async function exitCode(s: Spawned, budgetMs = 30_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'running'>((r) => {
    timer = setTimeout(() => r('running'), budgetMs);
  });
  const code = await Promise.race([s.exit, timeout]);
  clearTimeout(timer);
  if (code === 'running') throw new Error(`still running after ${budgetMs} ms:\n${s.output()}`);
  return code;
}

async function metricsRequests(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return sumSamples(text, 'llm_requests_total')[''] ?? 0;
}

describe('state dir lock', () => {
  it('refuses a second sidecar and a second `up` naming the holder, lets reads run, and dies with a SIGKILLed holder', async () => {
    const t = tempDir('spendline-lock-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const g = generateUsageLines({ records: 300, perLine: 10, seed: 3 });
    writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));

    const first = await startSidecar(file, state);
    expect(await metricsRequests(first.url)).toBe(g.truth.totals.requests);

    const second = spawnCli([
      'sidecar',
      '--otlp-file',
      file,
      '--state-dir',
      state,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(await exitCode(second)).toBe(2);
    expect(second.output()).toContain(`is in use by another spendline process (pid ${first.child.pid})`);

    const up = spawnCli([
      'up',
      '--state-dir',
      state,
      '--otlp-listen',
      '127.0.0.1:0',
      '--otlp-grpc-listen',
      '127.0.0.1:0',
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(await exitCode(up)).toBe(2);
    expect(up.output()).toContain(`(pid ${first.child.pid})`);

    // Read-only commands work while the sidecar holds the state dir.
    const report = spawnCli(['report', '--state-dir', state, '--days-back', '3650', '--format', 'json']);
    expect(await exitCode(report)).toBe(0);
    expect(JSON.parse(report.output()).totals.requests).toBe(g.truth.totals.requests);
    const insights = spawnCli(['insights', '--state-dir', state]);
    expect(await exitCode(insights)).toBe(0);
    const reconcile = spawnCli(['reconcile', '--state-dir', state]);
    expect(await exitCode(reconcile)).toBe(0); // nothing billed: no day flagged

    // SIGKILL: no cleanup runs, yet the next sidecar starts at once and counts nothing twice.
    first.child.kill('SIGKILL');
    await first.exit;
    const third = await startSidecar(file, state);
    expect(await metricsRequests(third.url)).toBe(g.truth.totals.requests);
    third.child.kill('SIGTERM');
    expect(await exitCode(third)).toBe(0);
    expect(await ledgerTotals(state)).toEqual(truthTotals(g.truth));
  }, 120_000);

  it('is exclusive within one process too and is released by release()', () => {
    const t = tempDir('spendline-lock-');
    cleanups.push(t.cleanup);
    const lock = lockStateDir(t.dir);
    let refused: unknown;
    try {
      lockStateDir(t.dir);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(StateDirLockedError);
    expect((refused as StateDirLockedError).holderPid).toBe(process.pid);
    lock.release();
    lockStateDir(t.dir).release();
  });
});

// The double count of issue 15: two sidecars started together on one state dir, both tailing the
// same export. Before the lock the ledger showed every record twice; now exactly one runs.
const LONG = process.env.SPENDLINE_FAULT_RUNS === '1';
const RECORDS = LONG ? 200_000 : 3_000;

describe('two sidecars on one state dir', () => {
  it(`counts ${RECORDS} unique records once: the second sidecar is refused`, async () => {
    const t = tempDir('spendline-double-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const g = generateUsageLines({ records: RECORDS, perLine: 50, seed: 11 });
    writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));
    const ports = [await freePort(), await freePort()];
    const both = ports.map((port) =>
      spawnCli([
        'sidecar',
        '--otlp-file',
        file,
        '--state-dir',
        state,
        '--listen',
        `127.0.0.1:${port}`,
        '--first-increment-hold',
        '0s',
      ]),
    );
    // Exactly one of the two exits 2 (whichever lost the race); the other counts everything.
    const loserIndex = await Promise.race(both.map((s, i) => s.exit.then(() => i)));
    const loser = both[loserIndex] as Spawned;
    const winner = both[1 - loserIndex] as Spawned;
    expect(await exitCode(loser)).toBe(2);
    const url = `http://127.0.0.1:${ports[1 - loserIndex]}`;
    await waitForHttpOk(`${url}/readyz`, LONG ? 600_000 : 60_000, () => winner.child.exitCode === null);
    expect(await metricsRequests(url)).toBe(g.truth.totals.requests);
    winner.child.kill('SIGTERM');
    expect(await exitCode(winner)).toBe(0);
    expect(await ledgerTotals(state)).toEqual(truthTotals(g.truth));
  }, 900_000);
});

describe('sidecar ids on one PostgreSQL ledger', () => {
  it('refuses a second sidecar (or `up`) with the same --sidecar-id, naming it; sidecars with different ids both count', async () => {
    const t = tempDir('spendline-sidecar-id-');
    cleanups.push(t.cleanup);
    const ledgerUrl = await freshDatabaseUrl();
    const files = [join(t.dir, 'a.json'), join(t.dir, 'b.json')] as const;
    const a = generateUsageLines({ records: 200, perLine: 10, seed: 21 });
    const b = generateUsageLines({ records: 150, perLine: 10, seed: 22 });
    writeFileSync(files[0], a.lines.map((l) => `${l}\n`).join(''));
    writeFileSync(files[1], b.lines.map((l) => `${l}\n`).join(''));
    const ledger = (id: string) => ['--ledger', ledgerUrl, '--sidecar-id', id];

    const one = await startSidecar(files[0], join(t.dir, 'state-1'), ledger('gateway-1'));
    expect(await metricsRequests(one.url)).toBe(a.truth.totals.requests);
    // Another state directory, the same identity: its offsets and counters would be one's.
    const same = spawnCli([
      'sidecar',
      '--otlp-file',
      files[1],
      '--state-dir',
      join(t.dir, 'state-2'),
      '--listen',
      '127.0.0.1:0',
      ...ledger('gateway-1'),
    ]);
    expect(await exitCode(same)).toBe(2);
    const refusal = same
      .output()
      .split('\n')
      .filter((l) => l !== '');
    expect(refusal).toEqual([
      'spendline sidecar: cannot start: sidecar id "gateway-1" is in use by another sidecar on this ledger; give each sidecar its own --sidecar-id (or its own state directory)',
    ]);
    const up = spawnCli([
      'up',
      '--state-dir',
      join(t.dir, 'state-3'),
      '--otlp-listen',
      '127.0.0.1:0',
      '--otlp-grpc-listen',
      '127.0.0.1:0',
      '--listen',
      '127.0.0.1:0',
      ...ledger('gateway-1'),
    ]);
    expect(await exitCode(up)).toBe(2);
    expect(up.output()).toContain('sidecar id "gateway-1" is in use');

    // A different id on the same ledger runs beside it; the ledger holds both sidecars' records.
    const two = await startSidecar(files[1], join(t.dir, 'state-2'), ledger('gateway-2'));
    expect(await metricsRequests(two.url)).toBe(b.truth.totals.requests);
    expect(one.child.exitCode).toBe(null);
    for (const s of [one, two]) {
      s.child.kill('SIGTERM');
      expect(await exitCode(s)).toBe(0);
    }
    expect(await ledgerTotals(join(t.dir, 'state-1'), ledgerUrl)).toEqual(truthTotals(a.truth, b.truth));
  }, 120_000);

  it('lets two distinct ids whose 32-bit hashtext keys collide run side by side', async () => {
    const t = tempDir('spendline-sidecar-id-hash-');
    cleanups.push(t.cleanup);
    const ledgerUrl = await freshDatabaseUrl();
    const probe = await openLedgerStore({ url: ledgerUrl, stateDir: join(t.dir, 'probe') });
    // Two ids the former lock key (hashtext, 32 bits) confused, found by PostgreSQL itself.
    const pair = await probe.get<{ a: string; b: string }>(
      `SELECT min(id) AS a, max(id) AS b FROM (
         SELECT 'sidecar-' || i AS id, hashtext('spendline sidecar ' || 'sidecar-' || i) AS h
         FROM generate_series(1, 400000) AS i) AS ids
       GROUP BY h HAVING count(*) > 1 LIMIT 1`,
    );
    await probe.close();
    expect(pair).toBeDefined();
    const { a, b } = pair as { a: string; b: string };
    const first = await openLedgerStore({ url: ledgerUrl, stateDir: join(t.dir, 'a'), sidecarId: a });
    cleanups.push(() => void first.close());
    await first.commitBatch([], null);
    const second = await openLedgerStore({ url: ledgerUrl, stateDir: join(t.dir, 'b'), sidecarId: b });
    cleanups.push(() => void second.close());
    await second.commitBatch([], null);
    // The same id is still refused.
    const again = await openLedgerStore({ url: ledgerUrl, stateDir: join(t.dir, 'c'), sidecarId: a }).then(
      async (s) => {
        try {
          await s.commitBatch([], null);
          return 'held';
        } finally {
          await s.close();
        }
      },
      (err: unknown) => err,
    );
    expect(again).toBeInstanceOf(SidecarIdInUseError);
  }, 120_000);
});
