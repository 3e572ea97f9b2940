import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { generateUsageLines } from '../../sidecar/test/support/otlpLines.js';
import { metricSum, waitForMetric } from '../../sidecar/test/support/upProcess.js';
import { freePort, waitForHttpOk } from '../support/ports.js';

// `npm start` as a process manager runs it: SIGTERM to the npm process must stop the whole tree
// (the node running `up`, prometheus, prometheus-alertmanager), count what was received, print the
// final counts and free every port. Runs the real npm, Prometheus and Alertmanager.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Stop budget: the issue asks for 5 s; the assertion allows 4× for a loaded machine. */
const STOP_BUDGET_MS = 20_000;

/** Every live descendant of `pid` (zombies count as gone), from /proc. */
function descendants(pid: number): { pid: number; cmd: string }[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      const ppid = Number(fields[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  const out: { pid: number; cmd: string }[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${c}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      } catch {}
      out.push({ pid: c, cmd });
      walk(c);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

let npm: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  // Whatever happened, nothing of this test keeps running: the test started npm in its own group.
  if (npm?.pid !== undefined) {
    try {
      process.kill(-npm.pid, 'SIGKILL');
    } catch {}
  }
  npm = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// What a process manager or a user does: signal npm (systemd, a container runtime, `kill <npm pid>`,
// SIGINT to npm alone), or the node process under it.
const CASES: { target: 'npm' | 'node'; signal: NodeJS.Signals }[] = [
  { target: 'npm', signal: 'SIGTERM' },
  { target: 'npm', signal: 'SIGINT' },
  { target: 'node', signal: 'SIGTERM' },
  // npm killed outright passes nothing on: the launcher sees its parent gone and stops as on SIGHUP.
  { target: 'npm', signal: 'SIGKILL' },
];

describe('npm start', () => {
  it.each(CASES)(
    'stops every child on $signal to the $target process, with the final counts printed and every port free',
    async ({ target, signal }) => {
      dir = mkdtempSync(join(tmpdir(), 'spendline-npm-start-'));
      const ports = {
        otlp: await freePort(),
        sidecar: await freePort(),
        prometheus: await freePort(),
        alertmanager: await freePort(),
      };
      let out = '';
      npm = spawn(
        'npm',
        [
          'start',
          '--',
          '--state-dir',
          join(dir, 'state'),
          '--otlp-listen',
          `127.0.0.1:${ports.otlp}`,
          '--otlp-grpc-listen',
          '127.0.0.1:0',
          '--listen',
          `127.0.0.1:${ports.sidecar}`,
          '--with-prometheus',
          '--prometheus-listen',
          `127.0.0.1:${ports.prometheus}`,
          '--alertmanager-listen',
          `127.0.0.1:${ports.alertmanager}`,
        ],
        {
          cwd: ROOT,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, SPENDLINE_API_TOKEN: '' },
        },
      );
      const npmPid = npm.pid ?? 0;
      npm.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      npm.stderr?.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise<number | null>((done) => npm?.once('exit', (code) => done(code)));
      const sidecarUrl = `http://127.0.0.1:${ports.sidecar}`;
      await waitForHttpOk(`${sidecarUrl}/healthz`, 60_000, () => npm?.exitCode === null).catch(
        (err: Error) => {
          throw new Error(`npm start did not come up: ${err.message}\n${out}`);
        },
      );
      await waitForHttpOk(`http://127.0.0.1:${ports.prometheus}/-/ready`, 40_000);
      await waitForHttpOk(`http://127.0.0.1:${ports.alertmanager}/-/ready`, 40_000);
      // `up` prints its banner once it has seen Prometheus and Alertmanager ready itself.
      const hint = `npm run demo -- --endpoint http://127.0.0.1:${ports.otlp}`;
      for (let i = 0; i < 400 && !out.includes(hint) && npm.exitCode === null; i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain(hint);

      // Traffic, so the final counts say something: 24 usage records in 4 OTLP requests.
      const { lines } = generateUsageLines({ records: 24, perLine: 6, seed: 5 });
      for (const line of lines) {
        const res = await fetch(`http://127.0.0.1:${ports.otlp}/v1/logs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: line,
        });
        expect(res.status).toBe(200);
      }
      await waitForMetric(sidecarUrl, 'llm_requests_total', 24, 40_000);
      expect(await metricSum(sidecarUrl, 'llm_requests_total')).toBe(24);

      const tree = descendants(npmPid);
      const names = tree.map((p) => p.cmd);
      expect(names.some((c) => c.includes('scripts/start.mjs'))).toBe(true);
      expect(names.some((c) => /(^|\/)prometheus /.test(c))).toBe(true);
      expect(names.some((c) => c.includes('prometheus-alertmanager'))).toBe(true);

      const launcher = tree.find((p) => p.cmd.includes('scripts/start.mjs'));
      const targetPid = target === 'npm' ? npmPid : (launcher?.pid ?? 0);
      const signalledAt = Date.now();
      process.kill(targetPid, signal);
      const deadline = signalledAt + STOP_BUDGET_MS;
      while (Date.now() < deadline && [npmPid, ...tree.map((p) => p.pid)].some(alive)) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const stoppedMs = Date.now() - signalledAt;
      console.log(`npm start: every process gone ${stoppedMs} ms after ${signal} to ${target}`);
      expect(tree.filter((p) => alive(p.pid)).map((p) => p.cmd)).toEqual([]);
      expect(alive(npmPid)).toBe(false);
      await exited;
      const seen = signal === 'SIGKILL' ? 'SIGHUP' : signal;
      expect(out).toContain(`spendline up: ${seen}: counting what was received, then stopping`);
      expect(out).toContain(
        'spendline up: final counts: 4 OTLP requests received, 4 lines written; records: 24 counted, 0 duplicate, 0 rejected, 0 ignored',
      );
      expect(out).toContain(
        'spendline up: stopped; every acknowledged request was read and committed to the ledger.',
      );
      for (const port of Object.values(ports)) expect(await portFree(port), `port ${port}`).toBe(true);
    },
    150_000,
  );
});
