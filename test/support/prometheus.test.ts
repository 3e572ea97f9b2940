import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPrometheus, startPrometheus } from './prometheus.js';

describe('test/support/prometheus', () => {
  let server: Server;
  let prom: RunningPrometheus | undefined;
  let target = '';

  beforeAll(async () => {
    const registry = new Registry();
    const gauge = new Gauge({
      name: 'spendline_probe_value',
      help: 'probe',
      registers: [registry],
      labelNames: ['k'],
    });
    gauge.set({ k: 'a' }, 42.125);
    const counter = new Counter({ name: 'spendline_probe_total', help: 'probe', registers: [registry] });
    counter.inc(7);
    server = createServer(async (_req, res) => {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await prom?.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  it('scrapes a prom-client endpoint on loopback and answers the exact values', async () => {
    prom = await startPrometheus({
      scrapeConfigs: [{ job_name: 'probe', static_configs: [{ targets: [target] }] }],
    });
    const gauge = await prom.waitFor('spendline_probe_value', (s) => s.length === 1);
    expect(gauge[0]?.metric).toMatchObject({ k: 'a', job: 'probe', instance: target });
    expect(gauge[0]?.value[1]).toBe('42.125');
    const counter = await prom.query('spendline_probe_total');
    expect(counter[0]?.value[1]).toBe('7');
    const up = await prom.query('up{job="probe"}');
    expect(up[0]?.value[1]).toBe('1');
  });

  it('reports PromQL errors instead of empty results', async () => {
    if (!prom) throw new Error('prometheus not started');
    await expect(prom.query('sum(')).rejects.toThrow(/bad_data/);
  });
});
