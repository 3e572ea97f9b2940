import { detectResources, hostDetector } from '@opentelemetry/resources';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
import { ATTR, CONTENT_ATTRS } from '../src/contract.js';
import { instrumentOpenAI, recordLLMUsage, startTelemetry, type TelemetryHandle } from '../src/index.js';
import { type FakeProvider, startFakeProvider } from '../src/testing/index.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlpReceiver.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  cleanups.push(() => r.close());
  return r;
}
async function fake(): Promise<FakeProvider> {
  const f = await startFakeProvider();
  cleanups.push(() => f.close());
  return f;
}
function start(...args: Parameters<typeof startTelemetry>): TelemetryHandle {
  const t = startTelemetry(...args);
  cleanups.push(() => t.shutdown());
  return t;
}
const usage = { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 2 };

describe('exporting when the collector is unhealthy', () => {
  it('collector down: the host is unaffected, the queue stays bounded, losses are counted, one warning', async () => {
    const warnings: string[] = [];
    const port = await freePort(); // nothing listens here
    const t = start({
      env: { OTLP_ENDPOINT: `http://127.0.0.1:${port}` },
      maxQueueSize: 5,
      maxExportBatchSize: 5,
      scheduledDelayMillis: 60_000,
      exportTimeoutMillis: 1000,
      onWarning: (m) => warnings.push(m),
    });
    // 12 synchronous records: 5 go out in a first batch, 5 wait in the full queue, 2 are dropped.
    const results = Array.from({ length: 12 }, () => recordLLMUsage(usage));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(t.stats()).toMatchObject({ recordsEmitted: 12, logsDropped: 2, spansDropped: 2 });
    await t.forceFlush();
    expect(t.stats()).toMatchObject({ logsFailed: 10, spansFailed: 10, exportFailures: 4 });
    const f = await fake();
    const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: f.openaiBaseURL, maxRetries: 0 }));
    const reply = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(reply.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
    await t.forceFlush();
    const s = t.stats();
    expect(s.recordsEmitted).toBe(13);
    expect(s.logsDropped).toBe(2);
    expect(s.spansDropped).toBe(2);
    expect(s.logsFailed).toBe(11); // two batches of 5, then the chat call's record
    expect(s.spansFailed).toBe(11);
    expect(s.logsExported).toBe(0);
    expect(s.exportFailures).toBe(6);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/usage records are being lost/);
    expect(s.warnings).toBe(1);
  });

  it('collector answering 500: failures counted; exports resume when it recovers', async () => {
    const r = await receiver();
    r.setMode({ kind: 'status', status: 500 });
    const warnings: string[] = [];
    const t = start({
      env: { OTLP_ENDPOINT: r.url },
      onWarning: (m) => warnings.push(m),
      scheduledDelayMillis: 60_000,
    });
    for (let i = 0; i < 3; i++) expect(recordLLMUsage(usage).ok).toBe(true);
    await t.forceFlush();
    expect(t.stats()).toMatchObject({ logsFailed: 3, spansFailed: 3, exportFailures: 2, logsExported: 0 });
    r.setMode({ kind: 'ok' });
    recordLLMUsage(usage);
    await t.forceFlush();
    expect(t.stats()).toMatchObject({ logsFailed: 3, logsExported: 1, spansExported: 1, warnings: 1 });
    expect(r.logs()).toHaveLength(1);
    expect(warnings).toHaveLength(1);
  });

  it('collector hanging: the export times out and is counted; the caller never waits on it', async () => {
    const r = await receiver();
    r.setMode({ kind: 'hang' });
    const t = start({
      env: { OTLP_ENDPOINT: r.url },
      exportTimeoutMillis: 300,
      scheduledDelayMillis: 10,
      onWarning: () => {},
    });
    const res = recordLLMUsage(usage); // returns synchronously while the collector hangs
    expect(res.ok).toBe(true);
    await t.forceFlush();
    expect(t.stats()).toMatchObject({ recordsEmitted: 1, logsFailed: 1, spansFailed: 1, logsExported: 0 });
  });
});

describe('endpoint, headers and resource from the environment', () => {
  it('per-signal endpoints win over OTLP_ENDPOINT; OTEL_EXPORTER_OTLP_HEADERS are sent; JSON bodies', async () => {
    const r = await receiver();
    const dead = `http://127.0.0.1:${await freePort()}`;
    const t = start({
      env: {
        OTLP_ENDPOINT: dead,
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${r.url}/v1/logs`,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${r.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20t0ken,x-tenant=acme',
        OTEL_SERVICE_NAME: 'checkout',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=ml',
      },
      serviceName: 'ignored-because-env-wins',
      serviceVersion: '1.2.3',
      resourceAttributes: { team: 'overridden', region: 'eu' },
    });
    expect(t.endpoints).toEqual({ logsUrl: `${r.url}/v1/logs`, tracesUrl: `${r.url}/v1/traces` });
    recordLLMUsage(usage);
    await t.forceFlush();
    expect(r.requests.map((q) => q.path).sort()).toEqual(['/v1/logs', '/v1/traces']);
    for (const q of r.requests) {
      expect(q.contentType).toBe('application/json');
      expect(q.headers.authorization).toBe('Bearer t0ken');
      expect(q.headers['x-tenant']).toBe('acme');
    }
    const [log] = r.logs();
    expect(log?.resource).toMatchObject({
      'service.name': 'checkout',
      'service.version': '1.2.3',
      'deployment.environment.name': 'prod',
      team: 'ml',
      region: 'eu',
    });
    expect(log?.scope).toBe('@spendline/sdk');
  });

  it('OTLP_ENDPOINT ending in /v1/logs means its base, for both signals', async () => {
    const r = await receiver();
    const t = start({ env: { OTLP_ENDPOINT: `${r.url}/v1/logs` } });
    expect(t.endpoints).toEqual({ logsUrl: `${r.url}/v1/logs`, tracesUrl: `${r.url}/v1/traces` });
    recordLLMUsage(usage);
    await t.forceFlush();
    expect(r.logs()).toHaveLength(1);
    expect(r.spans()).toHaveLength(1);
  });
});

describe('switches', () => {
  it('SPENDLINE_DISABLED=true: a no-op handle, nothing exported, clients untouched in behaviour', async () => {
    const r = await receiver();
    const t = start({ env: { OTLP_ENDPOINT: r.url, SPENDLINE_DISABLED: 'true' } });
    expect(t.disabled).toBe(true);
    expect(recordLLMUsage(usage)).toEqual({ ok: false, reason: 'telemetry_not_started' });
    const f = await fake();
    const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: f.openaiBaseURL, maxRetries: 0 }));
    const res = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let n = 0;
    for await (const _ of res) n++;
    expect(n).toBe(8);
    const sent = f.requests[0]?.body as { stream_options?: unknown } | undefined;
    expect(sent).toBeDefined();
    expect(sent?.stream_options).toBeUndefined();
    await t.forceFlush();
    expect(t.stats().recordsEmitted).toBe(0);
    expect(r.requests).toHaveLength(0);
  });

  it('content is never captured by default, and is captured with SPENDLINE_CAPTURE_CONTENT=true', async () => {
    const f = await fake();
    const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: f.openaiBaseURL, maxRetries: 0 }));
    const ask = () =>
      openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'secret prompt' }],
      });

    const r1 = await receiver();
    const off = startTelemetry({ env: { OTLP_ENDPOINT: r1.url } });
    await ask();
    await off.shutdown();
    const [log1] = r1.logs();
    expect(log1?.attributes[ATTR.inputTokens]).toBe(11);
    for (const name of CONTENT_ATTRS) expect(log1?.attributes[name]).toBeUndefined();
    expect(JSON.stringify(r1.bodies)).not.toContain('secret prompt');

    const r2 = await receiver();
    const on = start({ env: { OTLP_ENDPOINT: r2.url, SPENDLINE_CAPTURE_CONTENT: 'true' } });
    await ask();
    await on.forceFlush();
    const [log2] = r2.logs();
    expect(log2?.attributes[CONTENT_ATTRS[0]]).toBe('[{"role":"user","content":"secret prompt"}]');
    expect(log2?.attributes[CONTENT_ATTRS[1]]).toBe(
      '[{"role":"assistant","content":"Hello from the spendline fake provider."}]',
    );
  });
});

describe('resource detection', () => {
  it('detects host and environment attributes but never exports the command line (it can hold credentials)', async () => {
    const r = await receiver();
    const t = start({ endpoint: r.url, serviceName: 'detect-test', scheduledDelayMillis: 60_000 });
    expect(recordLLMUsage(usage).ok).toBe(true);
    await t.forceFlush();
    const resource = r.logs()[0]?.resource ?? {};
    if (!process.env.OTEL_SERVICE_NAME) expect(resource['service.name']).toBe('detect-test');
    expect(typeof resource['host.name']).toBe('string');
    expect(Object.keys(resource).filter((k) => k.startsWith('process.command'))).toEqual([]);
  });

  it("exports a detector's asynchronous attributes (the host detector's host.id), on records and spans, as OpenTelemetry's batch processors do", async () => {
    const detected = detectResources({ detectors: [hostDetector] });
    await detected.waitForAsyncAttributes?.();
    const hostId = detected.attributes['host.id'];
    const r = await receiver();
    const t = start({ endpoint: r.url, serviceName: 'detect-async', scheduledDelayMillis: 60_000 });
    expect(recordLLMUsage(usage).ok).toBe(true);
    await t.forceFlush();
    expect(r.logs()[0]?.resource['host.id']).toBe(hostId);
    expect(r.spans()[0]?.resource['host.id']).toBe(hostId);
  });
});
