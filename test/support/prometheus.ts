/**
 * A real Prometheus as a child process for tests: own temp dir, free loopback port, always stopped.
 * Usage: `const prom = await startPrometheus({ scrapeConfigs, ruleFiles }); try { … } finally { await prom.stop(); }`
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, waitForHttpOk } from './ports.js';

export interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  metrics_path?: string;
  static_configs: { targets: string[]; labels?: Record<string, string> }[];
  [key: string]: unknown;
}

export interface PrometheusOptions {
  scrapeConfigs: ScrapeConfig[];
  /** Rule files copied into the temp dir and listed under `rule_files`. */
  ruleFiles?: string[];
  /** `alerting.alertmanagers` targets, e.g. `127.0.0.1:9093`. */
  alertmanagers?: string[];
  scrapeInterval?: string;
  evaluationInterval?: string;
  /** Extra top-level config merged in (e.g. `global.external_labels`). */
  extraConfig?: Record<string, unknown>;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  url: string;
  dir: string;
  /** Instant query; throws on a query error. */
  query(promql: string, time?: number): Promise<PromSample[]>;
  /** Polls an instant query until `predicate` holds or `timeoutMs` passes; returns the last result. */
  waitFor(
    promql: string,
    predicate: (samples: PromSample[]) => boolean,
    timeoutMs?: number,
  ): Promise<PromSample[]>;
  /** Raw GET against the HTTP API, parsed as JSON. */
  api<T = unknown>(path: string): Promise<T>;
  stop(): Promise<void>;
}

interface ApiEnvelope<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
  errorType?: string;
}

export function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error(
      `${name} is not installed: run scripts/install-system-deps.sh (Debian packages prometheus, prometheus-alertmanager)`,
    );
  }
  return path;
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const binary = requireBinary('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'spendline-prom-'));
  const ruleNames = (options.ruleFiles ?? []).map((file, i) => {
    const name = `${i}-${basename(file)}`;
    copyFileSync(file, join(dir, name));
    return name;
  });
  const config: Record<string, unknown> = {
    global: {
      scrape_interval: options.scrapeInterval ?? '1s',
      evaluation_interval: options.evaluationInterval ?? '1s',
    },
    rule_files: ruleNames,
    scrape_configs: options.scrapeConfigs,
    ...(options.alertmanagers && options.alertmanagers.length > 0
      ? { alerting: { alertmanagers: [{ static_configs: [{ targets: options.alertmanagers }] }] } }
      : {}),
    ...options.extraConfig,
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });

  const stop = async () => {
    if (!exited) {
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitForHttpOk(`${url}/-/ready`, 30_000, () => !exited);
  } catch (err) {
    await stop();
    throw new Error(`prometheus did not start: ${(err as Error).message}\n${output}`);
  }

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as ApiEnvelope<T>;
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const query = async (promql: string, time?: number) => {
    const params = new URLSearchParams({ query: promql });
    if (time !== undefined) params.set('time', String(time));
    const data = await api<{ resultType: string; result: PromSample[] }>(`/api/v1/query?${params}`);
    if (data.resultType === 'scalar') {
      const scalar = data.result as unknown as [number, string];
      return [{ metric: {}, value: scalar }];
    }
    return data.result;
  };
  const waitFor = async (promql: string, predicate: (s: PromSample[]) => boolean, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: PromSample[] = [];
    while (Date.now() < deadline) {
      last = await query(promql);
      if (predicate(last)) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(
      `timed out after ${timeoutMs} ms waiting on ${promql}; last result ${JSON.stringify(last)}`,
    );
  };
  return { url, dir, query, waitFor, api, stop };
}
