/**
 * Many sidecars, one PostgreSQL ledger, exactly once (issue 19). Three built CLIs, each tailing its
 * own rotating export, count one stream of records: every line goes to one sidecar's file and a
 * quarter of them to a second sidecar's file as well (a collector restart or a gateway rebalance
 * delivers a record twice). Sidecars are SIGKILLed at random moments and restarted, and PostgreSQL
 * itself restarts in the middle. At the end the fleet's ledger and the sum of the three sidecars'
 * /metrics equal the ground truth: nothing lost, nothing counted twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOKEN_TYPES } from '@spendline/sdk/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitForHttpOk } from '../../test/support/ports.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { sumSamples } from './support/metricsText.js';
import { generateUsageLines } from './support/otlpLines.js';
import { startPostgres } from './support/postgres.js';
import { ledgerTotals, seededRandom, tempDir, truthTotals } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sidecar {
  id: string;
  dir: string;
  live: string;
  state: string;
  rotations: number;
  child: ChildProcess | null;
  port: number;
  /** stderr of the current process (why it exited, if it did). */
  stderr: string;
}

function startCli(s: Sidecar, ledgerUrl: string): void {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'sidecar',
      '--otlp-file',
      s.live,
      '--state-dir',
      s.state,
      '--ledger',
      ledgerUrl,
      '--sidecar-id',
      s.id,
      '--listen',
      `127.0.0.1:${s.port}`,
      '--batch-bytes',
      '32768',
      '--poll-interval',
      '10ms',
      '--first-increment-hold',
      '0s',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  s.stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    s.stderr += d.toString();
  });
  children.push(child);
  s.child = child;
}

async function kill(s: Sidecar): Promise<void> {
  const child = s.child;
  if (child === null) return;
  s.child = null;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('three sidecars on one PostgreSQL ledger', () => {
  it('count every record once through duplicate delivery, SIGKILLs, rotations and a PostgreSQL restart', async () => {
    const pg = await startPostgres();
    cleanups.push(() => pg.stop());
    const ledgerUrl = await pg.createDatabase('fleet');
    const t = tempDir('spendline-fleet-');
    cleanups.push(t.cleanup);
    const sidecars: Sidecar[] = [];
    for (const id of ['east', 'west', 'north']) {
      const dir = join(t.dir, id);
      mkdirSync(dir, { recursive: true });
      sidecars.push({
        id,
        dir,
        live: join(dir, 'genai.json'),
        state: join(dir, 'state'),
        rotations: 0,
        child: null,
        port: await freePort(),
        stderr: '',
      });
    }
    const g = generateUsageLines({
      records: 9_000,
      perLine: 15,
      seed: 1919,
      kind: 'mixed',
      withNoise: true,
      withSessions: true,
    });
    const random = seededRandom(19);
    let written = 0;
    let duplicated = 0;
    const writeSome = (n: number) => {
      const end = Math.min(g.lines.length, written + n);
      const chunks = sidecars.map(() => [] as string[]);
      for (let i = written; i < end; i++) {
        const first = Math.floor(random() * 3);
        (chunks[first] as string[]).push(`${g.lines[i]}\n`);
        if (random() < 0.25) {
          duplicated++;
          (chunks[(first + 1 + Math.floor(random() * 2)) % 3] as string[]).push(`${g.lines[i]}\n`);
        }
      }
      written = end;
      sidecars.forEach((s, i) => {
        const text = (chunks[i] as string[]).join('');
        if (text !== '') appendFileSync(s.live, text);
        if (random() < 0.15) {
          s.rotations++;
          appendFileSync(s.live, '');
          renameSync(
            s.live,
            join(s.dir, `genai-2026-01-01T00-00-${String(s.rotations).padStart(2, '0')}.000.json`),
          );
        }
      });
    };

    for (const s of sidecars) startCli(s, ledgerUrl);
    let kills = 0;
    let restartedPostgres = false;
    for (let round = 0; round < 24; round++) {
      const deadline = Date.now() + 120 + Math.floor(random() * 400);
      while (Date.now() < deadline) {
        writeSome(1 + Math.floor(random() * 20));
        await sleep(20 + Math.floor(random() * 40));
      }
      if (round === 11) {
        // PostgreSQL restarts while the three keep running: their commits fail, they retry, nothing
        // further is read until a commit succeeds again.
        await pg.restart();
        restartedPostgres = true;
        continue;
      }
      const victim = sidecars[Math.floor(random() * 3)] as Sidecar;
      await kill(victim);
      kills++;
      startCli(victim, ledgerUrl);
    }
    writeSome(g.lines.length);
    expect(written).toBe(g.lines.length);
    expect(restartedPostgres).toBe(true);
    expect(kills).toBeGreaterThanOrEqual(20);
    expect(duplicated).toBeGreaterThan(50);
    expect(sidecars.every((s) => s.rotations > 0)).toBe(true);

    // Every sidecar running (a killed one may have died on its own while PostgreSQL was down).
    for (const s of sidecars) {
      if (s.child === null || s.child.exitCode !== null) startCli(s, ledgerUrl);
    }
    const truth = truthTotals(g.truth);
    const texts: string[] = [];
    for (const s of sidecars) {
      const child = s.child as ChildProcess;
      await waitForHttpOk(`http://127.0.0.1:${s.port}/readyz`, 60_000, () => child.exitCode === null).catch(
        (err) => {
          throw new Error(`${s.id}: ${(err as Error).message}\n${s.stderr}`);
        },
      );
    }
    // Ready means each caught up with its own files; the fleet total is the ledger's.
    for (const s of sidecars) texts.push(await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text());
    // A report from any sidecar answers for the whole fleet.
    const usage = (await (
      await fetch(
        `http://127.0.0.1:${(sidecars[1] as Sidecar).port}/api/usage?group_by=service&from=2025-12-01T00:00:00Z&to=2026-02-01T00:00:00Z`,
      )
    ).json()) as { totals: { requests: number } };
    for (const s of sidecars) {
      const child = s.child as ChildProcess;
      const exitCode = new Promise((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exitCode).toBe(0);
    }

    // Prometheus sums the three sidecars' counters: each counts only what it committed.
    const sum = (metric: string, by?: string) => {
      const out: Record<string, number> = {};
      for (const text of texts)
        for (const [k, v] of Object.entries(sumSamples(text, metric, by))) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    expect(sum('llm_requests_total')['']).toBe(truth.requests);
    expect(sum('llm_requests_total', 'status').error).toBe(truth.errors);
    const tokens = sum('llm_tokens_total', 'token_type');
    for (const k of TOKEN_TYPES) expect(tokens[k] ?? 0).toBe(truth.tokens[k]);
    expect(sum('spendline_records_total', 'result').counted).toBe(g.truth.calls);
    expect(usage.totals.requests).toBe(truth.requests);

    // The ledger, read from anywhere.
    expect(await ledgerTotals(t.dir, ledgerUrl)).toEqual(truth);
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: t.dir });
    try {
      const sessions = await db.get<{ requests: number; errors: number; tokens: number }>(
        `SELECT SUM(requests) AS requests, SUM(errors) AS errors,
           SUM(input_tokens + cache_read_tokens + cache_write_tokens + output_tokens + reasoning_tokens) AS tokens
         FROM usage_total WHERE kind = 'session'`,
      );
      const allTokens = TOKEN_TYPES.reduce((a, k) => a + truth.tokens[k], 0);
      expect(sessions).toEqual({ requests: truth.requests, errors: truth.errors, tokens: allTokens });
      // Each sidecar's usage events are its own sequence; together they are every call once.
      const seqs = await db.all<{ sidecar_id: string; value: string }>(
        "SELECT sidecar_id, value FROM pipeline_state WHERE name = 'event_seq' ORDER BY sidecar_id",
      );
      expect(seqs.map((r) => r.sidecar_id)).toEqual(['east', 'north', 'west']);
      expect(seqs.reduce((a, r) => a + Number(r.value), 0)).toBe(truth.requests);
    } finally {
      await db.close();
    }
  }, 300_000);
});
