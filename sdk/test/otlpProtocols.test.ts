/**
 * OTEL_EXPORTER_OTLP_PROTOCOL (and its per-signal variants): startTelemetry and UsageRecordProcessor
 * export OTLP/HTTP JSON, OTLP/HTTP protobuf or OTLP/gRPC through the real OpenTelemetry exporters, to
 * loopback receivers that decode what arrives with the sidecar's protobuf decoder.
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { ATTR, USAGE_EVENT_NAME } from '../src/contract.js';
import {
  instrumentOpenAI,
  recordLLMUsage,
  startTelemetry,
  type TelemetryHandle,
  UsageRecordProcessor,
} from '../src/index.js';
import { resolveEndpoints, resolveProtocols } from '../src/telemetry/options.js';
import { startFakeProvider } from '../src/testing/index.js';
import { catalogCostUsd } from './support/catalogCost.js';
import { startOtlpGrpcReceiver } from './support/otlpGrpcReceiver.js';
import { type CapturedLog, type CapturedSpan, startOtlpReceiver } from './support/otlpReceiver.js';
import { makeTestCertificates } from './support/testCertificates.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function start(env: Record<string, string>): TelemetryHandle {
  const t = startTelemetry({ env, serviceName: 'proto-test', scheduledDelayMillis: 10 });
  cleanups.push(() => t.shutdown());
  return t;
}

const cost = (model: string, input: number, output: number) => catalogCostUsd('openai', model, input, output);

/** One manual record and one instrumented openai chat call, then a flush. */
async function exercise(t: TelemetryHandle): Promise<void> {
  expect(
    recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 100 }).ok,
  ).toBe(true);
  const fake = await startFakeProvider();
  cleanups.push(() => fake.close());
  const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: fake.openaiBaseURL, maxRetries: 0 }));
  await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  await t.forceFlush();
  expect(t.stats()).toMatchObject({ logsFailed: 0, spansFailed: 0, logsExported: 2, spansExported: 2 });
}

/** Both records arrived intact: exact tokens and cost, one span each, in the same trace as the log. */
function expectRecords(logs: CapturedLog[], spans: CapturedSpan[]): void {
  const usage = logs.filter((l) => l.eventName === USAGE_EVENT_NAME);
  expect(usage.map((l) => l.attributes[ATTR.requestModel]).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
  const of = (m: string) => usage.find((l) => l.attributes[ATTR.requestModel] === m)?.attributes;
  expect(of('gpt-4o')).toMatchObject({
    [ATTR.inputTokens]: 1000,
    [ATTR.outputTokens]: 100,
    [ATTR.costUsd]: cost('gpt-4o', 1000, 100),
  });
  expect(of('gpt-4o-mini')).toMatchObject({
    [ATTR.inputTokens]: 11,
    [ATTR.outputTokens]: 7,
    [ATTR.costUsd]: cost('gpt-4o-mini', 11, 7),
  });
  for (const l of usage) expect(l.resource['service.name']).toBe('proto-test');
  expect(spans.map((s) => s.name).sort()).toEqual(['chat gpt-4o', 'chat gpt-4o-mini']);
  for (const s of spans) {
    const log = usage.find((l) => l.attributes[ATTR.requestModel] === s.attributes[ATTR.requestModel]);
    expect(log?.traceId).toBe(s.traceId);
    expect(log?.spanId).toBe(s.spanId);
  }
}

describe('choosing the protocol', () => {
  it('reads the per-signal variable, then the general one, then http/json; a bad value is named and skipped', () => {
    expect(resolveProtocols({})).toEqual({ logs: 'http/json', traces: 'http/json' });
    expect(resolveProtocols({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual({
      logs: 'grpc',
      traces: 'grpc',
    });
    expect(
      resolveProtocols({
        OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/Protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }),
    ).toEqual({ logs: 'http/protobuf', traces: 'http/json' });
    const problems: string[] = [];
    expect(
      resolveProtocols(
        { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/xml' },
        problems,
      ),
    ).toEqual({ logs: 'grpc', traces: 'grpc' });
    expect(problems).toEqual([
      'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL "http/xml" is not one of http/json, http/protobuf, grpc; ignored',
    ]);
  });

  it('over gRPC a base endpoint is used as is, and the default is localhost:4317', () => {
    const grpc = { logs: 'grpc', traces: 'grpc' } as const;
    expect(resolveEndpoints({}, undefined, [], grpc)).toEqual({
      logsUrl: 'http://localhost:4317',
      tracesUrl: 'http://localhost:4317',
    });
    expect(
      resolveEndpoints({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317/' }, undefined, [], grpc),
    ).toEqual({
      logsUrl: 'http://collector:4317',
      tracesUrl: 'http://collector:4317',
    });
    expect(
      resolveEndpoints({ OTLP_ENDPOINT: 'http://c:4318' }, undefined, [], {
        logs: 'grpc',
        traces: 'http/protobuf',
      }),
    ).toEqual({ logsUrl: 'http://c:4318', tracesUrl: 'http://c:4318/v1/traces' });
  });
});

describe('exporting', () => {
  it('http/protobuf: both signals as application/x-protobuf, decoded intact', async () => {
    const r = await startOtlpReceiver();
    cleanups.push(() => r.close());
    const t = start({ OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' });
    expect(t.protocols).toEqual({ logs: 'http/protobuf', traces: 'http/protobuf' });
    await exercise(t);
    expect(new Set(r.requests.map((q) => `${q.path} ${q.contentType}`))).toEqual(
      new Set(['/v1/logs application/x-protobuf', '/v1/traces application/x-protobuf']),
    );
    expectRecords(r.logs(), r.spans());
  });

  it('grpc: both signals over OTLP/gRPC, headers as metadata', async () => {
    const g = await startOtlpGrpcReceiver();
    cleanups.push(() => g.close());
    const t = start({
      OTEL_EXPORTER_OTLP_ENDPOINT: g.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-team=payments',
    });
    expect(t.endpoints).toEqual({ logsUrl: g.url, tracesUrl: g.url });
    await exercise(t);
    expectRecords(g.logs(), g.spans());
    expect(new Set(g.metadata.map((m) => m.signal))).toEqual(new Set(['logs', 'traces']));
    for (const m of g.metadata) expect(m.values['x-team']).toBe('payments');
  });

  it('per signal: logs over gRPC, traces as OTLP/HTTP JSON', async () => {
    const g = await startOtlpGrpcReceiver();
    cleanups.push(() => g.close());
    const r = await startOtlpReceiver();
    cleanups.push(() => r.close());
    const t = start({
      OTEL_EXPORTER_OTLP_ENDPOINT: g.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${r.url}/v1/traces`,
    });
    await exercise(t);
    expect(g.spans()).toEqual([]);
    expect(r.logs()).toEqual([]);
    expect(new Set(r.requests.map((q) => q.contentType))).toEqual(new Set(['application/json']));
    expectRecords(g.logs(), r.spans());
  });

  it('a gRPC endpoint that does not answer: failures are counted, the host is unaffected', async () => {
    const g = await startOtlpGrpcReceiver();
    const url = g.url;
    await g.close(); // nothing listens there now
    const t = startTelemetry({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      exportTimeoutMillis: 2000,
      onWarning: () => undefined,
    });
    cleanups.push(() => t.shutdown());
    expect(recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 }).ok).toBe(
      true,
    );
    await t.forceFlush();
    expect(t.stats()).toMatchObject({ logsExported: 0, logsFailed: 1, spansExported: 0, spansFailed: 1 });
  });

  it('UsageRecordProcessor honours the protocol too', async () => {
    const g = await startOtlpGrpcReceiver();
    cleanups.push(() => g.close());
    const p = new UsageRecordProcessor({
      env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: g.url },
      scheduledDelayMillis: 10,
    });
    cleanups.push(() => p.shutdown());
    expect(p.configProblems).toEqual([]);
    // A usage log record through the processor: emit one with the SDK's logger provider.
    const { LoggerProvider } = await import('@opentelemetry/sdk-logs');
    const provider = new LoggerProvider({ processors: [p] });
    provider
      .getLogger('@spendline/sdk')
      .emit({ eventName: USAGE_EVENT_NAME, attributes: { [ATTR.inputTokens]: 5 } });
    await p.forceFlush();
    expect(g.logs().map((l) => l.attributes[ATTR.inputTokens])).toEqual([5]);
  });
});

describe('TLS from OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY', () => {
  it('https with mTLS: trusts the private CA and presents the client certificate; without them the exports fail', async () => {
    const certs = makeTestCertificates();
    cleanups.push(() => certs.remove());
    const r = await startOtlpReceiver({
      tls: { key: certs.read('serverKey'), cert: certs.read('serverCert'), ca: certs.read('ca') },
    });
    cleanups.push(() => r.close());
    const t = start({
      OTEL_EXPORTER_OTLP_ENDPOINT: r.url,
      OTEL_EXPORTER_OTLP_CERTIFICATE: certs.paths.ca,
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: certs.paths.clientCert,
      OTEL_EXPORTER_OTLP_CLIENT_KEY: certs.paths.clientKey,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
    expect(t.configProblems).toEqual([]);
    await exercise(t);
    expectRecords(r.logs(), r.spans());

    // The CA alone: the server refuses a client without a certificate.
    const noClient = startTelemetry({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: r.url, OTEL_EXPORTER_OTLP_CERTIFICATE: certs.paths.ca },
      onWarning: () => undefined,
    });
    cleanups.push(() => noClient.shutdown());
    recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
    await noClient.forceFlush();
    expect(noClient.stats()).toMatchObject({ logsExported: 0, logsFailed: 1 });
  });

  it('gRPC over TLS trusts the private CA; an unreadable file is named and skipped', async () => {
    const certs = makeTestCertificates();
    cleanups.push(() => certs.remove());
    const g = await startOtlpGrpcReceiver({
      tls: { key: certs.read('serverKey'), cert: certs.read('serverCert') },
    });
    cleanups.push(() => g.close());
    const t = start({
      OTEL_EXPORTER_OTLP_ENDPOINT: g.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_CERTIFICATE: certs.paths.ca,
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: `${certs.dir}/missing.key`,
    });
    expect(t.configProblems).toEqual([
      `OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY "${certs.dir}/missing.key" cannot be read (ENOENT); ignored`,
    ]);
    expect(t.endpoints?.logsUrl).toMatch(/^https:/);
    await exercise(t);
    expectRecords(g.logs(), g.spans());

    // Without the CA the server's certificate is not trusted: the exports fail.
    const untrusted = startTelemetry({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: g.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      exportTimeoutMillis: 3000,
      onWarning: () => undefined,
    });
    cleanups.push(() => untrusted.shutdown());
    recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
    await untrusted.forceFlush();
    expect(untrusted.stats()).toMatchObject({ logsExported: 0, logsFailed: 1 });
  });
});

describe('OTEL_TRACES_EXPORTER and OTEL_LOGS_EXPORTER', () => {
  it('none: that signal is not exported (no spans are made at all); the other still is; the globals are released at shutdown', async () => {
    const r = await startOtlpReceiver();
    cleanups.push(() => r.close());
    const t = startTelemetry({
      env: { OTLP_ENDPOINT: r.url, OTEL_TRACES_EXPORTER: 'none' },
      scheduledDelayMillis: 10,
    });
    expect(recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 3, outputTokens: 1 }).ok).toBe(
      true,
    );
    await t.forceFlush();
    expect(r.logs().map((l) => l.attributes[ATTR.inputTokens])).toEqual([3]);
    expect(r.spans()).toEqual([]);
    expect(r.requests.some((q) => q.path === '/v1/traces')).toBe(false);
    await t.shutdown();
    const { logs } = await import('@opentelemetry/api-logs');
    const { trace } = await import('@opentelemetry/api');
    expect(logs.getLoggerProvider().constructor.name).not.toBe('LoggerProvider');
    expect(trace.getTracerProvider().getTracer('x').startSpan('y').isRecording()).toBe(false);
  });

  it('logs none: warned (spendline cannot count the service), spans still exported', async () => {
    const r = await startOtlpReceiver();
    cleanups.push(() => r.close());
    const warnings: string[] = [];
    const t = startTelemetry({
      env: { OTLP_ENDPOINT: r.url, OTEL_LOGS_EXPORTER: 'none' },
      scheduledDelayMillis: 10,
      onWarning: (m) => warnings.push(m),
    });
    cleanups.push(() => t.shutdown());
    recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 3, outputTokens: 1 });
    await t.forceFlush();
    expect(r.logs()).toEqual([]);
    expect(r.spans().map((s) => s.attributes[ATTR.inputTokens])).toEqual([3]);
    expect(warnings.join('\n')).toContain('OTEL_LOGS_EXPORTER does not include otlp');
  });

  it('console,otlp: both; an exporter this SDK does not run is named and left out', async () => {
    const r = await startOtlpReceiver();
    cleanups.push(() => r.close());
    const printed: unknown[] = [];
    const dir = console.dir;
    console.dir = (v: unknown) => void printed.push(v);
    try {
      const t = start({
        OTLP_ENDPOINT: r.url,
        OTEL_TRACES_EXPORTER: 'console,otlp',
        OTEL_LOGS_EXPORTER: 'zipkin',
      });
      expect(t.configProblems).toEqual([
        'OTEL_LOGS_EXPORTER value "zipkin" is not supported here (otlp, console or none); ignored',
      ]);
      recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 3, outputTokens: 1 });
      await t.forceFlush();
    } finally {
      console.dir = dir;
    }
    expect(r.spans()).toHaveLength(1);
    expect(r.logs()).toHaveLength(1);
    expect(JSON.stringify(printed)).toContain('chat gpt-4o');
  });
});
