/**
 * The exactly-once guarantee under kill -9: the built CLI runs as a child process over a growing,
 * rotating export and is SIGKILLed at random moments, then restarted; at the end /metrics and the
 * ledger must equal the ground truth exactly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOKEN_TYPES } from '@spendline/sdk/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitForHttpOk } from '../../test/support/ports.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { sumSamples } from './support/metricsText.js';
import { generateUsageLines } from './support/otlpLines.js';
import { ledgerTotals, seededRandom, tempDir, truthTotals } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0)) c();
});

/** The sidecar CLI on `state` (and the PostgreSQL ledger at `ledgerUrl`); its stderr is kept. */
function startCli(live: string, state: string, port: number, ledgerUrl: string | undefined) {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'sidecar',
      '--otlp-file',
      live,
      '--state-dir',
      state,
      '--listen',
      `127.0.0.1:${port}`,
      '--batch-bytes',
      '32768',
      '--poll-interval',
      '10ms',
      // /metrics is read directly here, not through Prometheus: show totals at once.
      '--first-increment-hold',
      '0s',
      // No --sidecar-id: its identity is the one kept in the state directory across kills.
      ...(ledgerUrl === undefined ? [] : ['--ledger', ledgerUrl]),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SPENDLINE_LEDGER_URL: '' } },
  );
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  return { child, stderr: () => stderr };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(LEDGER_BACKENDS)('spendline sidecar under kill -9 (%s)', (kind) => {
  it('counts every record exactly once across 15 random SIGKILLs, rotations and restarts', async () => {
    const t = tempDir('spendline-crash-');
    cleanups.push(t.cleanup);
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    const live = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const g = generateUsageLines({
      records: 12_000,
      perLine: 15,
      seed: 42,
      kind: 'mixed',
      withNoise: true,
      withSessions: true,
    });
    const random = seededRandom(7);
    let written = 0;
    let rotations = 0;
    const writeSome = (n: number) => {
      const end = Math.min(g.lines.length, written + n);
      appendFileSync(
        live,
        g.lines
          .slice(written, end)
          .map((l) => `${l}\n`)
          .join(''),
      );
      written = end;
      if (random() < 0.3) {
        rotations++;
        renameSync(
          live,
          join(t.dir, `genai-2026-01-01T00-00-${String(rotations).padStart(2, '0')}.000.json`),
        );
      }
    };
    for (let kill = 0; kill < 15; kill++) {
      const { child, stderr } = startCli(live, state, await freePort(), ledgerUrl);
      const lifetime = 150 + Math.floor(random() * 900);
      const deadline = Date.now() + lifetime;
      while (Date.now() < deadline) {
        writeSome(1 + Math.floor(random() * 40));
        await sleep(20 + Math.floor(random() * 60));
      }
      // Each life runs until killed: none refused to start or failed (e.g. its identity still held).
      expect({ exitCode: child.exitCode, stderr: stderr() }).toMatchObject({ exitCode: null });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    writeSome(g.lines.length);
    expect(written).toBe(g.lines.length);
    expect(rotations).toBeGreaterThan(3);

    const port = await freePort();
    const { child, stderr } = startCli(live, state, port, ledgerUrl);
    // The rest of the backlog: a few seconds here, far more with the whole suite on two cores.
    await waitForHttpOk(`http://127.0.0.1:${port}/readyz`, 180_000, () => child.exitCode === null).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n${stderr()}`);
      },
    );
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const exitCode = new Promise((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exitCode).toBe(0);

    const truth = truthTotals(g.truth);
    expect(sumSamples(text, 'llm_requests_total')['']).toBe(truth.requests);
    expect(sumSamples(text, 'llm_requests_total', 'status').error).toBe(truth.errors);
    const tokens = sumSamples(text, 'llm_tokens_total', 'token_type');
    for (const k of TOKEN_TYPES) expect(tokens[k] ?? 0).toBe(truth.tokens[k]);
    const records = sumSamples(text, 'spendline_records_total', 'result');
    expect(records.counted).toBe(g.truth.calls);
    expect(await ledgerTotals(state, ledgerUrl)).toEqual(truth);
    // Session totals and usage event ids were committed with the same batches: every call once.
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: state });
    try {
      const sessions = await db.get(
        `SELECT SUM(requests) AS requests, SUM(errors) AS errors,
           SUM(input_tokens + cache_read_tokens + cache_write_tokens + output_tokens + reasoning_tokens) AS tokens
         FROM usage_total WHERE kind = 'session'`,
      );
      const allTokens = TOKEN_TYPES.reduce((a, k) => a + truth.tokens[k], 0);
      expect(sessions).toEqual({ requests: truth.requests, errors: truth.errors, tokens: allTokens });
      // This sidecar's event sequence ('local' on SQLite; on PostgreSQL the id kept in the state dir).
      const sidecarId = kind === 'sqlite' ? 'local' : readFileSync(join(state, 'sidecar-id'), 'utf8').trim();
      expect(
        await db.value("SELECT value FROM pipeline_state WHERE sidecar_id = ? AND name = 'event_seq'", [
          sidecarId,
        ]),
      ).toBe(String(truth.requests));
    } finally {
      await db.close();
    }
  }, 420_000);
});
