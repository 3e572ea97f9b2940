/**
 * End to end: a service process using @spendline/sdk → local OTLP receiver → collector-format file →
 * `spendline sidecar` (child, SIGKILLed mid-run and restarted) → real Prometheus with the project's
 * recording and alert rules → real Alertmanager with the project's routing → a loopback webhook.
 * Everything as shipped: the rules unmodified, prometheus.yml's scrape and evaluation intervals,
 * alertmanager.yml's routes and group_wait, the sidecar's default --first-increment-hold.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { type RunningReceiver, startOtlpReceiver } from '../../sidecar/src/receiver/index.js';
import { freePort, waitForHttpOk } from '../support/ports.js';
import { type RunningPrometheus, requireBinary, startPrometheus } from '../support/prometheus.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(root, 'sidecar/dist/cli.js');
const EMITTER = join(root, 'test/e2e/emitter.mjs');
const ALERT = 'LLMHourlySpendOverThreshold';

interface Truth {
  calls: number;
  tokens: Record<string, number>;
  costNano: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function emit(endpoint: string, phase: Record<string, unknown>): Promise<Truth> {
  const { stdout } = await promisify(execFile)(process.execPath, [EMITTER, endpoint, JSON.stringify(phase)], {
    timeout: 60_000,
  });
  return JSON.parse(stdout) as Truth;
}

function startSidecarChild(args: string[]): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'sidecar', ...args], {
    stdio: 'ignore',
    env: { ...process.env, SPENDLINE_API_TOKEN: '' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited };
}

/** The shipped global intervals (scrape, evaluation) of prometheus/prometheus.yml. */
function shippedIntervals(): { scrape: string; evaluation: string } {
  const config = parse(readFileSync(join(root, 'prometheus/prometheus.yml'), 'utf8')) as {
    global: { scrape_interval: string; evaluation_interval: string };
  };
  return { scrape: config.global.scrape_interval, evaluation: config.global.evaluation_interval };
}

/** The project's Alertmanager routing, with every webhook pointed at the test's loopback receiver. */
function alertmanagerConfigForTest(dir: string, webhookBase: string): string {
  const config = parse(readFileSync(join(root, 'prometheus/alertmanager.yml'), 'utf8')) as {
    receivers: { name: string; webhook_configs?: { url?: string }[] }[];
  };
  for (const receiver of config.receivers)
    for (const hook of receiver.webhook_configs ?? []) hook.url = `${webhookBase}/${receiver.name}`;
  const file = join(dir, 'alertmanager.yml');
  writeFileSync(file, stringify(config));
  return file;
}

describe('end to end: SDK → receiver → file → sidecar → Prometheus → Alertmanager → webhook', () => {
  it('keeps exact totals across a SIGKILL of the sidecar and delivers the hourly-spend alert', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spendline-e2e-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));

    // Webhook receiver: records every Alertmanager notification.
    const notifications: {
      path: string;
      at: number;
      body: { alerts: { labels: Record<string, string>; status: string }[] };
    }[] = [];
    const webhook: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        notifications.push({ path: req.url ?? '', at: Date.now(), body: JSON.parse(body) });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => webhook.close(() => r())));
    const webhookBase = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;

    // Alertmanager (Debian names it prometheus-alertmanager), the project's routing.
    const amBinary = requireBinary('prometheus-alertmanager');
    const amPort = await freePort();
    const am = spawn(
      amBinary,
      [
        `--config.file=${alertmanagerConfigForTest(dir, webhookBase)}`,
        `--storage.path=${join(dir, 'am')}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        '--cluster.listen-address=',
      ],
      { stdio: 'ignore' },
    );
    cleanups.push(() => {
      am.kill('SIGKILL');
    });
    await waitForHttpOk(`http://127.0.0.1:${amPort}/-/ready`, 20_000, () => am.exitCode === null);

    // Local receiver standing in for the collector, writing the file export.
    const exportFile = join(dir, 'export', 'genai.jsonl');
    (await import('node:fs')).mkdirSync(join(dir, 'export'));
    const receiver: RunningReceiver = await startOtlpReceiver({
      host: '127.0.0.1',
      port: 0,
      filePath: exportFile,
      rotateBytes: 64 * 1024,
    });
    cleanups.push(() => receiver.close());

    // The sidecar, with an hourly budget of $1 that becomes the alert's threshold.
    const budgets = join(dir, 'budgets.yml');
    writeFileSync(budgets, stringify({ budgets: [{ name: 'total-hour', period: 'hour', limit_usd: '1' }] }));
    const sidecarPort = await freePort();
    const sidecarArgs = [
      '--otlp-file',
      join(dir, 'export', 'genai*.jsonl'),
      '--state-dir',
      join(dir, 'state'),
      '--listen',
      `127.0.0.1:${sidecarPort}`,
      '--budgets',
      budgets,
    ];
    let sidecar = startSidecarChild(sidecarArgs);
    cleanups.push(() => {
      sidecar.child.kill('SIGKILL');
    });
    await waitForHttpOk(
      `http://127.0.0.1:${sidecarPort}/healthz`,
      20_000,
      () => sidecar.child.exitCode === null,
    );

    const intervals = shippedIntervals();
    const prom: RunningPrometheus = await startPrometheus({
      // The job name the shipped prometheus.yml gives the sidecar (the pipeline alerts select on it).
      scrapeConfigs: [
        { job_name: 'spendline-sidecar', static_configs: [{ targets: [`127.0.0.1:${sidecarPort}`] }] },
      ],
      ruleFiles: [join(root, 'prometheus/rules/recording.yml'), join(root, 'prometheus/rules/alerts.yml')],
      alertmanagers: [`127.0.0.1:${amPort}`],
      scrapeInterval: intervals.scrape,
      evaluationInterval: intervals.evaluation,
    });
    cleanups.push(() => prom.stop());

    // Phase 1: cheap traffic, under the threshold.
    const base = {
      provider: 'openai',
      model: 'gpt-4o',
      feature: 'support-chat',
      outputTokens: 200,
      cacheRead: 512,
      reasoning: 0,
    };
    const t1 = await emit(receiver.url, { ...base, calls: 40, inputTokens: 1000 });
    // New series: exposed at 0, their first increment shown after the 30 s hold, then scraped.
    await prom.waitFor('sum(llm_requests_total)', (s) => s[0]?.value[1] === '40', 90_000);
    await prom.waitFor('spendline:llm_hourly_spend_threshold_usd', (s) => s[0]?.value[1] === '1', 60_000);
    // Phase 1's spend is in the hourly increase (its first increment was not lost), under the $1.
    await prom.waitFor('spendline:llm_cost_usd:increase1h', (s) => Number(s[0]?.value[1]) > 0, 60_000);
    expect(notifications.filter((n) => n.body.alerts.some((a) => a.labels.alertname === ALERT))).toEqual([]);

    // Phase 2: expensive traffic; the sidecar is SIGKILLed while it is counting it, then restarted.
    // The spend cannot cross the threshold before this phase's first record is sent: the delay is
    // measured from here (an upper bound; it includes the emission and the sidecar's restart).
    const crossedAt = Date.now();
    const phase2 = emit(receiver.url, { ...base, calls: 120, inputTokens: 60_000 });
    const metricsUrl = `http://127.0.0.1:${sidecarPort}/metrics`;
    for (let i = 0; i < 400; i++) {
      const text = await (await fetch(metricsUrl)).text().catch(() => '');
      const counted = [...text.matchAll(/^llm_requests_total\{[^}]*\} (\d+)/gm)].reduce(
        (a, m) => a + Number(m[1]),
        0,
      );
      if (counted > 40) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    sidecar.child.kill('SIGKILL');
    await sidecar.exited;
    const t2 = await phase2;
    sidecar = startSidecarChild(sidecarArgs);
    await waitForHttpOk(
      `http://127.0.0.1:${sidecarPort}/readyz`,
      30_000,
      () => sidecar.child.exitCode === null,
    );

    // Exact totals in Prometheus equal what the service sent: nothing lost, nothing counted twice.
    const calls = t1.calls + t2.calls;
    await prom.waitFor('sum(llm_requests_total)', (s) => s[0]?.value[1] === String(calls), 90_000);
    const tokens = await prom.query('sum by (token_type) (llm_tokens_total)');
    const byType = Object.fromEntries(tokens.map((s) => [s.metric.token_type, Number(s.value[1])]));
    const expectedTokens = Object.fromEntries(
      Object.keys(t1.tokens)
        .map((k) => [k, (t1.tokens[k] ?? 0) + (t2.tokens[k] ?? 0)])
        .filter(([, v]) => v !== 0),
    );
    expect(Object.fromEntries(Object.entries(byType).filter(([, v]) => v !== 0))).toEqual(expectedTokens);
    const cost = await prom.query('sum(llm_cost_usd_total)');
    expect(Math.round(Number(cost[0]?.value[1]) * 1e9)).toBe(t1.costNano + t2.costNano);

    // The hourly-spend alert fires in Prometheus and reaches the webhook through the critical route.
    const deadline = crossedAt + 120_000;
    let delivered: (typeof notifications)[number] | undefined;
    while (!delivered && Date.now() < deadline) {
      delivered = notifications.find((n) =>
        n.body.alerts.some((a) => a.labels.alertname === ALERT && a.status === 'firing'),
      );
      if (!delivered) await new Promise((r) => setTimeout(r, 250));
    }
    expect(delivered?.path).toBe('/oncall');
    const delay = ((delivered?.at ?? Number.NaN) - crossedAt) / 1000;
    process.stdout.write(
      `e2e: hourly-spend alert reached the webhook ${delay.toFixed(1)} s after the spend crossed the threshold\n`,
    );
    expect(delay).toBeLessThanOrEqual(60);
    // No flapping: the alert was never resolved in between.
    expect(
      notifications.some((n) =>
        n.body.alerts.some((a) => a.labels.alertname === ALERT && a.status === 'resolved'),
      ),
    ).toBe(false);
  }, 300_000);
});
