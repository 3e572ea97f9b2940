/**
 * A real Prometheus scrapes the built CLI, which is SIGKILLed and restarted on the same port while
 * more usage is written: no counter reset is ever seen, and the exact delta over the restart (value
 * now minus value `@` a moment before the kill) equals the records written meanwhile, per token type.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOKEN_TYPES } from '@spendline/sdk/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitForHttpOk } from '../../test/support/ports.js';
import { type PromSample, startPrometheus } from '../../test/support/prometheus.js';
import { generateUsageLines } from './support/otlpLines.js';
import { tempDir } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0).reverse()) await c();
});

function startCli(file: string, state: string, port: number): ChildProcess {
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
      '--poll-interval',
      '50ms',
      '--first-increment-hold',
      '2s', // two 1 s scrape intervals
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  return child;
}
const lines = (l: string[]) => l.map((x) => `${x}\n`).join('');
const value = (r: PromSample[]) => r[0]?.value[1];
const byType = (r: PromSample[]) =>
  Object.fromEntries(r.map((s) => [s.metric.token_type, Number(s.value[1])]));

describe('Prometheus across a SIGKILL and restart of the sidecar', () => {
  it('sees no reset and exact deltas', async () => {
    const t = tempDir('spendline-promkill-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const a = generateUsageLines({ records: 400, perLine: 8, seed: 21, kind: 'mixed' });
    const b = generateUsageLines({ records: 250, perLine: 8, seed: 22, startMs: Date.UTC(2026, 0, 2) });
    writeFileSync(file, lines(a.lines));
    const port = await freePort();
    let child = startCli(file, state, port);
    await waitForHttpOk(`http://127.0.0.1:${port}/readyz`, 30_000, () => child.exitCode === null);
    const prom = await startPrometheus({
      scrapeConfigs: [
        { job_name: 'sidecar', scrape_interval: '1s', static_configs: [{ targets: [`127.0.0.1:${port}`] }] },
      ],
    });
    cleanups.push(() => prom.stop());
    const is = (want: number) => (r: PromSample[]) => value(r) === String(want);
    await prom.waitFor('sum(llm_requests_total)', is(a.truth.totals.requests), 40_000);
    const beforeKill = Date.now() / 1000;

    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    appendFileSync(file, lines(b.lines));
    await new Promise((r) => setTimeout(r, 2500)); // a few failed scrapes while it is down
    child = startCli(file, state, port);
    await waitForHttpOk(`http://127.0.0.1:${port}/readyz`, 30_000, () => child.exitCode === null);
    const total = a.truth.totals.requests + b.truth.totals.requests;
    await prom.waitFor('sum(llm_requests_total)', is(total), 40_000);

    expect(value(await prom.query('sum(resets(llm_requests_total[10m]))'))).toBe('0');
    expect(value(await prom.query('sum(resets(llm_tokens_total[10m]))'))).toBe('0');
    expect(value(await prom.query('sum(llm_requests_total)', beforeKill))).toBe(
      String(a.truth.totals.requests),
    );
    expect(value(await prom.query(`sum(llm_requests_total) - sum(llm_requests_total @ ${beforeKill})`))).toBe(
      String(b.truth.totals.requests),
    );
    const delta = byType(
      await prom.query(
        `sum by (token_type) (llm_tokens_total) - sum by (token_type) (llm_tokens_total @ ${beforeKill})`,
      ),
    );
    const want = Object.fromEntries(
      TOKEN_TYPES.map((k) => [k, b.truth.totals.tokens[k]]).filter(([, n]) => n !== 0),
    );
    expect(Object.fromEntries(Object.entries(delta).filter(([, n]) => n !== 0))).toEqual(want);
    // Every series was first exposed at 0 (the first-increment hold), so increase() over the whole
    // run, evaluated at the newest sample (no extrapolation), is exactly A + B; a reset at the
    // restart would count A again.
    const lastTs = Number(value(await prom.query('max(timestamp(llm_requests_total))')));
    expect(value(await prom.query('sum(increase(llm_requests_total[10m]))', lastTs))).toBe(String(total));
    expect(value(await prom.query('sum(spendline_records_total{result="duplicate"})'))).toBe(
      String(a.truth.decodedRecords - a.truth.calls),
    );
  }, 150_000);
});
