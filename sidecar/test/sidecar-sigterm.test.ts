/**
 * Graceful stop of the built CLI: SIGTERM while the backlog is still being read commits the current
 * batch and exits 0 with a consistent ledger; a restart finishes the backlog with exact totals.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitForHttpOk } from '../../test/support/ports.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
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

function start(file: string, state: string, port: number): { child: ChildProcess; stderr: () => string } {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'sidecar',
      '--otlp-file',
      file,
      '--state-dir',
      state,
      '--listen',
      `127.0.0.1:${port}`,
      '--batch-bytes',
      '2048',
      // /metrics is read directly here, not through Prometheus: show totals at once.
      '--first-increment-hold',
      '0s',
    ],
    // The SQLite ledger of --state-dir, whatever the environment says.
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SPENDLINE_LEDGER_URL: '' } },
  );
  children.push(child);
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  return { child, stderr: () => err };
}

const exited = (c: ChildProcess) =>
  new Promise<number | null>((r) =>
    c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code)),
  );

/** Requests counted in metric_counter and in usage_rollup: written in one transaction, so always equal. */
async function committedRequests(state: string): Promise<[number, number]> {
  const db = await openLedgerStore({ url: undefined, stateDir: state });
  try {
    const counter = await db.value<number>(
      "SELECT coalesce(sum(total), 0) FROM metric_counter WHERE metric = 'llm_requests_total'",
    );
    const rollup = await db.value<number>('SELECT coalesce(sum(requests), 0) FROM usage_rollup');
    return [counter ?? Number.NaN, rollup ?? Number.NaN];
  } finally {
    await db.close();
  }
}

describe('spendline sidecar on SIGTERM', () => {
  it('commits the current batch, exits 0, and a restart completes the backlog exactly', async () => {
    const t = tempDir('spendline-sigterm-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const g = generateUsageLines({ records: 20_000, perLine: 10, seed: 77, kind: 'mixed' });
    writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));

    const port = await freePort();
    const first = start(file, state, port);
    await waitForHttpOk(`http://127.0.0.1:${port}/healthz`, 20_000, () => first.child.exitCode === null);
    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);
    expect(first.stderr()).toContain('SIGTERM: committing the current batch');
    const [counter, rollup] = await committedRequests(state);
    expect(counter).toBe(rollup);
    expect(counter).toBeLessThanOrEqual(20_000);

    const port2 = await freePort();
    const second = start(file, state, port2);
    await waitForHttpOk(`http://127.0.0.1:${port2}/readyz`, 60_000, () => second.child.exitCode === null);
    const text = await (await fetch(`http://127.0.0.1:${port2}/metrics`)).text();
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toBe(0);

    const truth = truthTotals(g.truth);
    expect(sumSamples(text, 'llm_requests_total')['']).toBe(truth.requests);
    expect(sumSamples(text, 'spendline_records_total', 'result')).toEqual({
      counted: 20_000,
      duplicate: g.truth.decodedRecords - 20_000,
      ignored: g.truth.ignored,
    });
    expect(await ledgerTotals(state)).toEqual(truth);
  }, 90_000);
});
