/**
 * `spendline up --with-prometheus` from a fresh checkout's default state dir (./.spendline, relative):
 * real Prometheus and Alertmanager load every rule group, stay quiet under the threshold, and the
 * hourly-spend alert fires once demo traffic crosses it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../../test/support/ports.js';
import { requireBinary } from '../../test/support/prometheus.js';
import { runDemo } from '../src/demo/traffic.js';
import { metricSum, startUpProcess, type UpProcess } from './support/upProcess.js';

const RULES_DIR = fileURLToPath(new URL('../../prometheus/rules/', import.meta.url));
/** Hourly budget on total spend: the hourly-spend alert's threshold. */
const LIMIT_USD = 0.1;

let dir: string | undefined;
let up: UpProcess | undefined;
afterEach(async () => {
  await up?.stop('SIGKILL');
  up = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface RuleGroup {
  name: string;
  rules: { name: string; health: string; type: string }[];
}
interface Alert {
  labels: Record<string, string>;
  state: string;
}

async function promApi<T>(base: string, path: string): Promise<T> {
  const body = (await (await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) })).json()) as {
    status: string;
    data: T;
  };
  if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
  return body.data;
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await get().catch(() => undefined);
    if (last !== undefined && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}; last ${JSON.stringify(last)}`);
}

async function totalCostUsd(sidecarUrl: string): Promise<number> {
  const overall = (await (await fetch(`${sidecarUrl}/api/usage/overall`)).json()) as {
    totals: { cost_usd: string };
  };
  return Number(overall.totals.cost_usd);
}

describe('spendline up --with-prometheus', () => {
  it('loads every rule group from the default state dir, stays quiet under the threshold, fires over it', async () => {
    requireBinary('prometheus');
    requireBinary('prometheus-alertmanager');
    dir = mkdtempSync(join(tmpdir(), 'spendline-up-prom-'));
    writeFileSync(
      join(dir, 'budgets.yml'),
      stringify({ budgets: [{ name: 'total-hour', period: 'hour', limit_usd: String(LIMIT_USD) }] }),
    );
    const promPort = await freePort();
    const amPort = await freePort();
    up = await startUpProcess(
      undefined,
      [
        '--with-prometheus',
        '--prometheus-listen',
        `127.0.0.1:${promPort}`,
        '--alertmanager-listen',
        `127.0.0.1:${amPort}`,
        '--budgets',
        'budgets.yml',
      ],
      { cwd: dir },
    );
    const prom = `http://127.0.0.1:${promPort}`;
    await until(
      'the up banner',
      async () => up?.output() ?? '',
      (o) => o.includes('Prometheus'),
      60_000,
    );
    expect(up.output()).toContain(join('.spendline', 'prometheus', 'prometheus.log'));

    // Every group of every shipped rule file is loaded and healthy.
    const shippedGroups = ['recording.yml', 'alerts.yml'].flatMap((f) =>
      (parse(readFileSync(join(RULES_DIR, f), 'utf8')) as { groups: { name: string }[] }).groups.map(
        (g) => g.name,
      ),
    );
    const loaded = await until(
      'rule groups',
      () => promApi<{ groups: RuleGroup[] }>(prom, '/api/v1/rules'),
      (d) => d.groups.length === shippedGroups.length,
      30_000,
    );
    expect(loaded.groups.map((g) => g.name).sort()).toEqual([...shippedGroups].sort());
    for (const g of loaded.groups) expect(g.rules.length, g.name).toBeGreaterThan(0);
    const ruleNames = loaded.groups.flatMap((g) => g.rules.map((r) => r.name));
    expect(ruleNames).toContain('LLMHourlySpendOverThreshold');
    expect(ruleNames).toContain('SpendlineSidecarDown');
    expect(ruleNames).not.toContain('OtelCollectorDown'); // no collector on a laptop

    // Demo traffic under the threshold (and under a quarter of it, so the burn rate stays quiet).
    const first = await runDemo({
      endpoint: up.otlpUrl,
      requests: 4,
      rate: 0,
      seed: 3,
      serviceName: 'up-prom',
    });
    const sidecarUrl = up.sidecarUrl;
    await until(
      'the demo counted',
      () => metricSum(sidecarUrl, 'llm_requests_total'),
      (n) => n === first.calls,
      30_000,
    );
    const cost1 = await totalCostUsd(sidecarUrl);
    expect(cost1).toBeGreaterThan(0);
    expect(cost1).toBeLessThan(LIMIT_USD / 4);
    // Prometheus has the spend in its hourly increase and the threshold from the budget...
    await until(
      'the spend in Prometheus',
      () =>
        promApi<{ result: { value: [number, string] }[] }>(
          prom,
          '/api/v1/query?query=spendline:llm_cost_usd:increase1h',
        ),
      (d) => Number(d.result[0]?.value[1]) > 0,
      60_000,
    );
    const threshold = await promApi<{ result: { value: [number, string] }[] }>(
      prom,
      '/api/v1/query?query=spendline:llm_hourly_spend_threshold_usd',
    );
    expect(Number(threshold.result[0]?.value[1])).toBe(LIMIT_USD);
    // ...and after two more evaluations of every group, nothing fires (SpendlineSidecarDown included:
    // the sidecar is scraped under the job name the rule expects).
    const seen = Date.now();
    await until(
      'two evaluations',
      () => promApi<{ groups: (RuleGroup & { lastEvaluation: string })[] }>(prom, '/api/v1/rules'),
      (d) => d.groups.every((g) => Date.parse(g.lastEvaluation) > seen + 5000),
      30_000,
    );
    const quiet = await promApi<{ alerts: Alert[] }>(prom, '/api/v1/alerts');
    expect(quiet.alerts.filter((a) => a.state === 'firing')).toEqual([]);
    // Not even pending: the pipeline alerts' `for` would hide a wrong job name for 2 minutes.
    expect(quiet.alerts.filter((a) => a.labels.alertname?.startsWith('Spendline'))).toEqual([]);

    // Cross the threshold.
    let requests = 0;
    while ((await totalCostUsd(sidecarUrl)) <= LIMIT_USD && requests < 400) {
      await runDemo({
        endpoint: up.otlpUrl,
        requests: 20,
        rate: 0,
        seed: 100 + requests,
        serviceName: 'up-prom',
      });
      requests += 20;
      await new Promise((r) => setTimeout(r, 1500));
    }
    expect(await totalCostUsd(sidecarUrl)).toBeGreaterThan(LIMIT_USD);
    await until(
      'LLMHourlySpendOverThreshold firing',
      () => promApi<{ alerts: Alert[] }>(prom, '/api/v1/alerts'),
      (d) =>
        d.alerts.some((a) => a.labels.alertname === 'LLMHourlySpendOverThreshold' && a.state === 'firing'),
      90_000,
    );
    // ...and Alertmanager has it.
    await until(
      'the alert in Alertmanager',
      async () =>
        (await (await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts`)).json()) as {
          labels: Record<string, string>;
        }[],
      (alerts) => alerts.some((a) => a.labels.alertname === 'LLMHourlySpendOverThreshold'),
      30_000,
    );
    expect(await up.stop('SIGINT')).toBe(0);
    up = undefined;
    expect(existsSync(join(dir, '.spendline', 'prometheus', 'prometheus.log'))).toBe(true);
    expect(existsSync(join(dir, '.spendline', 'prometheus', 'alertmanager.log'))).toBe(true);
  }, 240_000);
});
