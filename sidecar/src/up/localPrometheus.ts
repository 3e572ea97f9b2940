import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

/** Scrape and rule-evaluation interval of the local Prometheus (seconds). */
export const LOCAL_SCRAPE_INTERVAL_S = 5;

export interface LocalPrometheusOptions {
  /** Folder for configs and data (under the state dir). */
  dir: string;
  /** The project's `prometheus/` folder (rules and alertmanager.yml). */
  assetsDir: string;
  /** host:port of the sidecar's /metrics. */
  sidecarTarget: string;
  /** host:port of the local OTLP receiver is not scraped: it has no metrics endpoint. */
  prometheusListen: string;
  alertmanagerListen: string;
  /** How long each of them may take to answer /-/ready (default 30 s). */
  readyTimeoutMs?: number;
}

export interface LocalPrometheus {
  prometheusUrl: string;
  alertmanagerUrl: string;
  /** Every rule group Prometheus was given. */
  ruleGroups: string[];
  /** Where their output goes. */
  logs: { prometheus: string; alertmanager: string };
  stop(): Promise<void>;
}

/** The executable `name` on the PATH, found without a shell (which the PATH may not even have). */
export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, name);
    try {
      if (statSync(path).isFile()) {
        accessSync(path, constants.X_OK);
        return path;
      }
    } catch {
      // not here, or not executable: the next PATH entry
    }
  }
  return undefined;
}

/** The pipeline alerts that need a collector: `spendline up` runs none (its receiver stands in). */
const COLLECTOR_ALERTS = new Set(['OtelCollectorDown']);

interface RuleFile {
  groups: { name: string; rules: { alert?: string }[] }[];
}

/**
 * Copies the project's rule files into `rulesDir` (absolute), without the alerts about a collector
 * (there is none on a laptop). Returns the absolute paths and every group name.
 */
function copyRules(assetsDir: string, rulesDir: string): { files: string[]; groups: string[] } {
  mkdirSync(rulesDir, { recursive: true });
  const sourceDir = join(assetsDir, 'rules');
  const files: string[] = [];
  const groups: string[] = [];
  for (const f of readdirSync(sourceDir)
    .filter((n) => n.endsWith('.yml') || n.endsWith('.yaml'))
    .sort()) {
    const doc = parse(readFileSync(join(sourceDir, f), 'utf8')) as RuleFile;
    for (const g of doc.groups) {
      g.rules = g.rules.filter((r) => r.alert === undefined || !COLLECTOR_ALERTS.has(r.alert));
      groups.push(g.name);
    }
    const target = join(rulesDir, f);
    writeFileSync(target, stringify(doc));
    files.push(target);
  }
  return { files, groups };
}

/**
 * Starts Prometheus (scraping the local sidecar under the job name the alert rules expect, with the
 * project's recording and alert rules by absolute path) and Alertmanager (the project's
 * alertmanager.yml) as children on loopback, for `spendline up --with-prometheus`, and waits until
 * both are ready. Their data and output (prometheus.log, alertmanager.log) live under `dir`; a child
 * that exits or does not get ready is reported with the path of its log.
 */
export async function startLocalPrometheus(options: LocalPrometheusOptions): Promise<LocalPrometheus> {
  const prometheus = findBinary('prometheus');
  const alertmanager = findBinary('prometheus-alertmanager') ?? findBinary('alertmanager');
  if (!prometheus || !alertmanager) {
    throw new Error(
      'prometheus and alertmanager must be installed for --with-prometheus (Debian: apt-get install prometheus prometheus-alertmanager)',
    );
  }
  // Prometheus resolves relative rule paths against its config file's folder: give it absolute ones.
  const dir = resolve(options.dir);
  const rules = copyRules(options.assetsDir, join(dir, 'rules'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: {
        scrape_interval: `${LOCAL_SCRAPE_INTERVAL_S}s`,
        evaluation_interval: `${LOCAL_SCRAPE_INTERVAL_S}s`,
      },
      rule_files: rules.files,
      alerting: { alertmanagers: [{ static_configs: [{ targets: [options.alertmanagerListen] }] }] },
      scrape_configs: [
        // The job names prometheus/prometheus.yml uses: the pipeline alerts select on them.
        { job_name: 'spendline-sidecar', static_configs: [{ targets: [options.sidecarTarget] }] },
        { job_name: 'prometheus', static_configs: [{ targets: [options.prometheusListen] }] },
      ],
    }),
  );
  const children: { name: string; child: ChildProcess; log: string }[] = [];
  const start = (bin: string, args: string[], name: string) => {
    const log = join(dir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.on('error', (err) =>
      process.stderr.write(`spendline up: ${name} failed: ${err.message} (log: ${log})\n`),
    );
    children.push({ name, child, log });
  };
  const stop = async () => {
    await Promise.all(
      children.map(
        ({ child }) =>
          new Promise<void>((resolveStop) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              resolveStop();
              return;
            }
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolveStop();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  };
  start(
    alertmanager,
    [
      `--config.file=${resolve(options.assetsDir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'alertmanager-data')}`,
      `--web.listen-address=${options.alertmanagerListen}`,
      '--cluster.listen-address=',
    ],
    'alertmanager',
  );
  start(
    prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
      `--web.listen-address=${options.prometheusListen}`,
    ],
    'prometheus',
  );
  const urls = {
    prometheus: `http://${options.prometheusListen}`,
    alertmanager: `http://${options.alertmanagerListen}`,
  };
  try {
    for (const c of children)
      await waitReady(`${urls[c.name as keyof typeof urls]}/-/ready`, c, options.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  let stopping = false;
  for (const { name, child, log } of children)
    child.once('exit', (code, signal) => {
      if (!stopping)
        process.stderr.write(`spendline up: ${name} exited (${signal ?? `code ${code}`}); see ${log}\n`);
    });
  return {
    prometheusUrl: urls.prometheus,
    alertmanagerUrl: urls.alertmanager,
    ruleGroups: rules.groups,
    logs: { prometheus: join(dir, 'prometheus.log'), alertmanager: join(dir, 'alertmanager.log') },
    stop: async () => {
      stopping = true;
      await stop();
    },
  };
}

async function waitReady(
  url: string,
  c: { name: string; child: ChildProcess; log: string },
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (c.child.exitCode !== null || c.child.signalCode !== null)
      throw new Error(`${c.name} exited (${c.child.signalCode ?? `code ${c.child.exitCode}`}); see ${c.log}`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${c.name} was not ready at ${url} after ${timeoutMs} ms; see ${c.log}`);
}
