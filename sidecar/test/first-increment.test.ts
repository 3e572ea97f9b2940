/**
 * A new series' first increment reaches Prometheus' increase(): the sidecar (a real `spendline sidecar`
 * process) exposes a new series at 0 and shows its total only after a scrape and --first-increment-hold,
 * so both Prometheus of an HA pair record the step from 0. A restart restores the committed totals
 * (no reset, no spurious increase).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPricer } from '@spendline/sdk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, waitForHttpOk } from '../../test/support/ports.js';
import { type RunningPrometheus, startPrometheus } from '../../test/support/prometheus.js';
import { type CallTruth, generateUsageLines } from './support/otlpLines.js';
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
      // Prometheus scrapes every 1 s here: 3 s is more than two scrape intervals.
      '--first-increment-hold',
      '3s',
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  return child;
}

/** One call of one model, with its exact catalog price in nano-USD. */
function oneCall(provider: string, model: string, seed: number, startMs: number) {
  const g = generateUsageLines({
    records: 1,
    perLine: 1,
    seed,
    models: [{ provider, model }],
    services: 1,
    features: 1,
    withCalls: true,
    startMs,
  });
  const call = g.truth.callList?.[0] as CallTruth;
  const price = createPricer().priceUsage(call.tokens, { provider, model });
  if (price.status !== 'priced') throw new Error(`${model} has no price in the catalog`);
  return { lines: g.lines, costNano: price.costNanoUsd };
}

/** increase() over 1h evaluated at the newest sample's own timestamp, so no extrapolation at the end. */
async function exactIncrease(prom: RunningPrometheus, selector: string): Promise<number> {
  const ts = await prom.query(`max(timestamp(${selector}))`);
  const at = Number(ts[0]?.value[1]);
  const inc = await prom.query(`sum(increase(${selector}[1h]))`, at);
  return Number(inc[0]?.value[1]);
}

async function waitForScrapeAfter(prom: RunningPrometheus, afterSec: number): Promise<void> {
  await prom.waitFor(
    'max(timestamp(up{job="sidecar"} == 1))',
    (s) => Number(s[0]?.value[1]) > afterSec + 1,
    30_000,
  );
}

describe('first increments on a real Prometheus HA pair', () => {
  it('a model called once shows its exact cost in increase(llm_cost_usd_total[1h]); a restart adds nothing', async () => {
    const t = tempDir('spendline-first-inc-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    writeFileSync(file, '');
    const port = await freePort();
    let child = startCli(file, state, port);
    await waitForHttpOk(`http://127.0.0.1:${port}/readyz`, 30_000, () => child.exitCode === null);
    const pair: RunningPrometheus[] = [];
    for (let i = 0; i < 2; i++) {
      const prom = await startPrometheus({
        scrapeConfigs: [{ job_name: 'sidecar', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
      });
      cleanups.push(() => prom.stop());
      pair.push(prom);
    }
    for (const prom of pair) await waitForScrapeAfter(prom, 0);

    const first = oneCall('openai', 'gpt-4o', 5, Date.UTC(2026, 0, 1));
    expect(first.costNano).toBeGreaterThan(0);
    appendFileSync(file, `${first.lines.join('\n')}\n`);
    const gpt = 'llm_cost_usd_total{model="gpt-4o"}';
    for (const prom of pair) {
      await prom.waitFor(
        `sum(${gpt})`,
        (s) => Math.round(Number(s[0]?.value[1]) * 1e9) === first.costNano,
        30_000,
      );
      // Prometheus saw the series at 0 before its first increment...
      expect((await prom.query(`min_over_time(${gpt}[1h])`))[0]?.value[1]).toBe('0');
      // ...so increase() holds the whole first call, exactly.
      expect(Math.round((await exactIncrease(prom, gpt)) * 1e9)).toBe(first.costNano);
      expect(await exactIncrease(prom, 'llm_requests_total{model="gpt-4o"}')).toBe(1);
    }

    // Restart: the restored series continue at their committed totals.
    const stoppedAt = Date.now() / 1000;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    child = startCli(file, state, port);
    await waitForHttpOk(`http://127.0.0.1:${port}/readyz`, 30_000, () => child.exitCode === null);
    // A second model, first called after the restart, is counted too.
    const second = oneCall('anthropic', 'claude-3-5-haiku-20241022', 6, Date.UTC(2026, 0, 1, 1));
    appendFileSync(file, `${second.lines.join('\n')}\n`);
    const claude = 'llm_cost_usd_total{model="claude-3-5-haiku-20241022"}';
    for (const prom of pair) {
      await waitForScrapeAfter(prom, stoppedAt);
      await prom.waitFor(
        `sum(${claude})`,
        (s) => Math.round(Number(s[0]?.value[1]) * 1e9) === second.costNano,
        30_000,
      );
      expect((await prom.query(`sum(resets(llm_cost_usd_total[1h]))`))[0]?.value[1]).toBe('0');
      expect(Math.round((await exactIncrease(prom, gpt)) * 1e9)).toBe(first.costNano);
      expect(Math.round((await exactIncrease(prom, claude)) * 1e9)).toBe(second.costNano);
      expect(await exactIncrease(prom, 'llm_requests_total')).toBe(2);
    }
  }, 120_000);
});
