import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

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
}

export interface LocalPrometheus {
  prometheusUrl: string;
  alertmanagerUrl: string;
  stop(): Promise<void>;
}

export function findBinary(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

/**
 * Starts Prometheus (scraping the local sidecar, with the project's recording and alert rules) and
 * Alertmanager (the project's alertmanager.yml) as children on loopback, for `spendline up
 * --with-prometheus`. Their data lives under `dir`.
 */
export function startLocalPrometheus(options: LocalPrometheusOptions): LocalPrometheus {
  const prometheus = findBinary('prometheus');
  const alertmanager = findBinary('prometheus-alertmanager') ?? findBinary('alertmanager');
  if (!prometheus || !alertmanager) {
    throw new Error(
      'prometheus and alertmanager must be installed for --with-prometheus (Debian: apt-get install prometheus prometheus-alertmanager)',
    );
  }
  mkdirSync(join(options.dir, 'rules'), { recursive: true });
  const rulesDir = join(options.assetsDir, 'rules');
  const ruleFiles = readdirSync(rulesDir).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'));
  for (const f of ruleFiles) copyFileSync(join(rulesDir, f), join(options.dir, 'rules', f));
  writeFileSync(
    join(options.dir, 'prometheus.yml'),
    stringify({
      global: {
        scrape_interval: `${LOCAL_SCRAPE_INTERVAL_S}s`,
        evaluation_interval: `${LOCAL_SCRAPE_INTERVAL_S}s`,
      },
      rule_files: ruleFiles.map((f) => join(options.dir, 'rules', f)),
      alerting: { alertmanagers: [{ static_configs: [{ targets: [options.alertmanagerListen] }] }] },
      scrape_configs: [
        { job_name: 'spendline', static_configs: [{ targets: [options.sidecarTarget] }] },
        { job_name: 'prometheus', static_configs: [{ targets: [options.prometheusListen] }] },
      ],
    }),
  );
  const children: ChildProcess[] = [];
  const start = (bin: string, args: string[], name: string) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', () => {}); // drained; their logs stay out of the up output
    child.on('error', (err) => process.stderr.write(`spendline up: ${name} failed: ${err.message}\n`));
    children.push(child);
  };
  start(
    alertmanager,
    [
      `--config.file=${join(options.assetsDir, 'alertmanager.yml')}`,
      `--storage.path=${join(options.dir, 'alertmanager-data')}`,
      `--web.listen-address=${options.alertmanagerListen}`,
      '--cluster.listen-address=',
    ],
    'alertmanager',
  );
  start(
    prometheus,
    [
      `--config.file=${join(options.dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(options.dir, 'prometheus-data')}`,
      `--web.listen-address=${options.prometheusListen}`,
    ],
    'prometheus',
  );
  return {
    prometheusUrl: `http://${options.prometheusListen}`,
    alertmanagerUrl: `http://${options.alertmanagerListen}`,
    stop: async () => {
      await Promise.all(
        children.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) {
                resolve();
                return;
              }
              const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
