/**
 * A real Alertmanager running prometheus/alertmanager.yml routes alerts by severity to the right
 * webhook receiver. Only the webhook URLs (to a loopback server) and the group waits (to 1 s, so the
 * test is quick) differ from the shipped file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, waitForHttpOk } from '../support/ports.js';
import { requireBinary } from '../support/prometheus.js';
import { isRecord, readRepoYaml } from './support/repoFiles.js';

interface Delivery {
  path: string;
  receiver: string;
  alertnames: string[];
  status: string;
}

/** The shipped config with webhook URLs pointed at `base` and group waits shortened to 1 s. */
function testConfig(base: string): Record<string, unknown> {
  const config = readRepoYaml('prometheus/alertmanager.yml');
  if (!isRecord(config) || !isRecord(config.route) || !Array.isArray(config.receivers)) {
    throw new Error('alertmanager.yml: unexpected shape');
  }
  const route = config.route;
  route.group_wait = '1s';
  for (const child of (Array.isArray(route.routes) ? route.routes : []).filter(isRecord)) {
    if (child.group_wait !== undefined) child.group_wait = '1s';
  }
  for (const receiver of config.receivers.filter(isRecord)) {
    for (const hook of (Array.isArray(receiver.webhook_configs) ? receiver.webhook_configs : []).filter(
      isRecord,
    )) {
      hook.url = `${base}${new URL(String(hook.url)).pathname}`;
    }
  }
  return config;
}

describe('prometheus/alertmanager.yml in a real Alertmanager', () => {
  const deliveries: Delivery[] = [];
  let webhook: Server;
  let child: ChildProcess | undefined;
  let dir = '';
  let amUrl = '';
  let output = '';

  beforeAll(async () => {
    const binary = requireBinary('prometheus-alertmanager');
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const payload = JSON.parse(body) as {
          receiver: string;
          status: string;
          alerts: { labels: { alertname: string } }[];
        };
        deliveries.push({
          path: req.url ?? '',
          receiver: payload.receiver,
          status: payload.status,
          alertnames: payload.alerts.map((a) => a.labels.alertname).sort(),
        });
        res.end('ok');
      });
    });
    const hookPort = await freePort();
    await new Promise<void>((resolve) => webhook.listen(hookPort, '127.0.0.1', resolve));
    dir = mkdtempSync(join(tmpdir(), 'spendline-am-'));
    writeFileSync(join(dir, 'alertmanager.yml'), stringify(testConfig(`http://127.0.0.1:${hookPort}`)));
    const port = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    child = spawn(
      binary,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    try {
      await waitForHttpOk(`${amUrl}/-/ready`, 20_000, () => !exited);
    } catch (err) {
      throw new Error(`alertmanager did not start: ${(err as Error).message}\n${output}`);
    }
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const done = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await done;
    }
    await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a critical alert to oncall and a warning to team, each on its own webhook', async () => {
    const now = new Date();
    const alerts = [
      { labels: { alertname: 'SpendlineSidecarDown', severity: 'critical', instance: 'sidecar:9464' } },
      {
        labels: { alertname: 'LLMUnpricedModelSeen', severity: 'warning', provider: 'acme', model: 'acme-1' },
      },
    ].map((a) => ({
      ...a,
      annotations: { summary: 'test' },
      startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + 600_000).toISOString(),
    }));
    const res = await fetch(`${amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });
    expect(res.status).toBe(200);

    const deadline = Date.now() + 20_000;
    while (deliveries.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const byReceiver = [...deliveries].sort((a, b) => a.receiver.localeCompare(b.receiver));
    expect(byReceiver).toEqual([
      {
        path: '/spendline/critical',
        receiver: 'oncall',
        status: 'firing',
        alertnames: ['SpendlineSidecarDown'],
      },
      {
        path: '/spendline/warning',
        receiver: 'team',
        status: 'firing',
        alertnames: ['LLMUnpricedModelSeen'],
      },
    ]);
  }, 30_000);
});
