/**
 * Every Grafana panel returns data: a real Prometheus scrapes a real `spendline sidecar` (the built
 * CLI as a child process) that ingests generated collector-export traffic, a billing export and a
 * budgets file. The collector's own metrics are the one exception (no collector runs here); its `up`
 * series is present because Prometheus scrapes a collector target where nothing listens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EMITTER_FIXTURE_DIR,
  type ExpectedCall,
  expectedCalls,
} from '../../sidecar/test/support/emitterTruth.js';
import {
  BUILTIN_MODELS,
  type GeneratedTruth,
  generateUsageLines,
} from '../../sidecar/test/support/otlpLines.js';
import { freePort, waitForHttpOk } from '../support/ports.js';
import { type RunningPrometheus, startPrometheus } from '../support/prometheus.js';
import { loadDashboards, substituteVariables } from './support/dashboards.js';
import { repoPath } from './support/repoFiles.js';

const CLI = repoPath('sidecar/dist/cli.js');
/** Panels reading the collector's own metrics: parsed by grafana-dashboards.test.ts, no data here. */
const NEEDS_COLLECTOR = /\botelcol_/;

describe('grafana panels against a real sidecar and Prometheus', () => {
  let dir = '';
  let sidecar: ChildProcess | undefined;
  let prom: RunningPrometheus | undefined;
  let truth: GeneratedTruth;
  /** Calls of a third-party emitter's fixture (with failed and usage-less calls), beside the generated traffic. */
  let emitterCalls: ExpectedCall[] = [];
  let sidecarOutput = '';
  /** Records the cut line began: rejected one by one, counted by their `observedTimeUnixNano`. */
  let cutRecords = 0;
  const today = new Date().toISOString().slice(0, 10);

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the sidecar (npx tsc -b)`);
    dir = mkdtempSync(join(tmpdir(), 'spendline-grafana-live-'));
    for (const sub of ['export', 'billing', 'state']) mkdirSync(join(dir, sub));
    const generated = generateUsageLines({
      records: 400,
      perLine: 20,
      seed: 11,
      models: [...BUILTIN_MODELS.slice(0, 8), { provider: 'acme', model: 'synthetic-acme-1' }],
      startMs: Date.now() - 10 * 60_000,
      kind: 'logs',
    });
    truth = generated.truth;
    // One line cut in half (a usage line, so the sidecar parses it): the rejections (one per record it
    // began) that the "Rejections by reason" panel shows.
    const first = generated.lines[0] ?? '';
    const cut = first.slice(0, Math.floor(first.length / 2));
    cutRecords = cut.split('"observedTimeUnixNano"').length - 1;
    const lines = [...generated.lines.slice(0, 5), cut, ...generated.lines.slice(5)];
    writeFileSync(join(dir, 'export', 'genai-logs.jsonl'), `${lines.join('\n')}\n`);
    // The official OpenTelemetry instrumentation's capture: failed calls and a stream without usage.
    copyFileSync(
      join(EMITTER_FIXTURE_DIR, 'otel-instrumentation-openai.otlp.jsonl'),
      join(dir, 'export', 'genai-traces.jsonl'),
    );
    emitterCalls = expectedCalls('otel-instrumentation-openai');
    writeFileSync(
      join(dir, 'billing', 'generic.jsonl'),
      [
        {
          date: today,
          provider: 'openai',
          tokens_total: 1_000_000,
          cost_usd: '12.50',
          usage_type: 'exact',
          source: 'test',
        },
        {
          date: today,
          provider: 'anthropic',
          tokens_total: 500_000,
          cost_usd: '7.25',
          usage_type: 'exact',
          source: 'test',
        },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n')
        .concat('\n'),
    );
    writeFileSync(
      join(dir, 'budgets.yml'),
      'budgets:\n  - { name: total-hourly, period: hour, limit_usd: 50 }\n  - { name: total-monthly, period: month, limit_usd: 20000 }\n',
    );
    const port = await freePort();
    sidecar = spawn(
      process.execPath,
      [
        CLI,
        'sidecar',
        '--otlp-file',
        join(dir, 'export', 'genai-*.jsonl'),
        '--state-dir',
        join(dir, 'state'),
        '--listen',
        `127.0.0.1:${port}`,
        '--billing',
        join(dir, 'billing', '*.jsonl'),
        '--budgets',
        join(dir, 'budgets.yml'),
        // Two of this Prometheus' 1 s scrape intervals (the default 30 s suits 15 s scrapes).
        '--first-increment-hold',
        '2s',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (c: Buffer) => {
      sidecarOutput = (sidecarOutput + c.toString()).slice(-8000);
    };
    sidecar.stdout?.on('data', keep);
    sidecar.stderr?.on('data', keep);
    let exited = false;
    sidecar.on('exit', () => {
      exited = true;
    });
    try {
      await waitForHttpOk(`http://127.0.0.1:${port}/readyz`, 30_000, () => !exited);
    } catch (err) {
      throw new Error(`sidecar not ready: ${(err as Error).message}\n${sidecarOutput}`);
    }
    const deadCollectorPort = await freePort();
    prom = await startPrometheus({
      scrapeConfigs: [
        { job_name: 'spendline-sidecar', static_configs: [{ targets: [`127.0.0.1:${port}`] }] },
        { job_name: 'otel-collector', static_configs: [{ targets: [`127.0.0.1:${deadCollectorPort}`] }] },
      ],
      ruleFiles: [repoPath('prometheus/rules/recording.yml')],
    });
    // Enough samples in the window for rate() and increase(): three scrapes of the sidecar.
    await prom.waitFor(
      'count_over_time(up{job="spendline-sidecar"}[1m])',
      (s) => Number(s[0]?.value[1]) >= 3,
      30_000,
    );
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    if (sidecar && sidecar.exitCode === null) {
      const done = new Promise<void>((resolve) => sidecar?.once('exit', () => resolve()));
      sidecar.kill('SIGTERM');
      const timer = setTimeout(() => sidecar?.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('Prometheus sees exactly the generated calls and the billed amounts', async () => {
    const requests = await prom!.query('sum(llm_requests_total)');
    expect(Number(requests[0]?.value[1])).toBe(truth.calls + emitterCalls.length);
    const errors = await prom!.query('sum(llm_requests_total{status="error"})');
    const emitterErrors = emitterCalls.filter((c) => c.status === 'error').length;
    expect(emitterErrors).toBeGreaterThan(0);
    expect(Number(errors[0]?.value[1])).toBe(truth.totals.errors + emitterErrors);
    const unknown = await prom!.query('sum(llm_unknown_usage_requests_total)');
    expect(Number(unknown[0]?.value[1])).toBe(emitterCalls.filter((c) => c.usageType === 'unknown').length);
    const billed = await prom!.query(`max by (provider) (llm_billed_cost_usd{day="${today}"})`);
    const byProvider = Object.fromEntries(billed.map((s) => [s.metric.provider, s.value[1]]));
    expect(byProvider).toEqual({ anthropic: '7.25', openai: '12.5' });
    const rejected = await prom!.query('sum by (reason) (spendline_rejected_records_total)');
    expect(cutRecords).toBeGreaterThan(1);
    expect(rejected.map((s) => [s.metric.reason, s.value[1]])).toEqual([['bad_json', String(cutRecords)]]);
  });

  it("the untracked recording rule equals the sidecar's own untracked gauge, to the nano-dollar", async () => {
    const rule = `provider_day:llm_untracked_cost_usd:billed_minus_tracked{provider="openai",day="${today}"}`;
    const recorded = await prom!.waitFor(rule, (s) => s.length === 1, 40_000);
    const gauge = await prom!.query(`llm_untracked_cost_usd{provider="openai",day="${today}"}`);
    const recordedNano = Math.round(Number(recorded[0]?.value[1]) * 1e9);
    const gaugeNano = Math.round(Number(gauge[0]?.value[1]) * 1e9);
    expect(gauge).toHaveLength(1);
    expect(recordedNano).toBe(gaugeNano);
  });

  it("a multi-query table's merged rows take a column from every query", async () => {
    // Grafana's merge transformation joins the instant table frames on their label columns; a row
    // that every query fills shows the table is really merged, not just the first query.
    const json = (name: string) =>
      JSON.parse(readFileSync(repoPath(`grafana/dashboards/${name}.json`), 'utf8')) as {
        panels: { type: string; title: string; targets?: { refId: string; expr: string }[] }[];
      };
    const checked: string[] = [];
    for (const name of ['llm-performance', 'reconciliation']) {
      for (const panel of json(name).panels) {
        const targets = panel.targets ?? [];
        if (panel.type !== 'table' || targets.length < 2) continue;
        const rows = new Map<string, Set<string>>();
        for (const t of targets) {
          const result = await prom!.query(substituteVariables(t.expr, { __range: '1h' }));
          for (const s of result) {
            const { __name__: _, ...labels } = s.metric;
            const key = JSON.stringify(Object.entries(labels).sort());
            const filled = rows.get(key) ?? new Set<string>();
            filled.add(t.refId);
            rows.set(key, filled);
          }
        }
        const complete = [...rows.values()].filter((f) => f.size === targets.length).length;
        expect(complete, `${panel.title}: rows with every column`).toBeGreaterThan(0);
        checked.push(panel.title);
      }
    }
    expect(checked.length).toBe(2);
  });

  it('every panel query returns data (variables set to All)', async () => {
    const queries = loadDashboards().flatMap((d) => d.queries);
    const empty: string[] = [];
    let checked = 0;
    for (const q of queries) {
      if (NEEDS_COLLECTOR.test(q.expr)) continue;
      const expr = substituteVariables(q.expr, { __range: '1h', __rate_interval: '1m' });
      const result = await prom!.query(expr);
      checked++;
      if (result.length === 0) empty.push(`${q.dashboard} / ${q.panel} ${q.refId}: ${expr}`);
    }
    expect(checked).toBe(queries.filter((q) => !NEEDS_COLLECTOR.test(q.expr)).length);
    expect(checked).toBeGreaterThan(30);
    expect(empty).toEqual([]);
  });
});
