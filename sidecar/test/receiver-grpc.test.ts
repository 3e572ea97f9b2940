/**
 * The local receiver's OTLP/gRPC listener (`spendline up --otlp-grpc-listen`): what the real
 * OpenTelemetry gRPC exporters send lands in the export file exactly as over HTTP; gzip; refusals
 * with the status codes the OTLP/gRPC specification asks for, writing nothing.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR, USAGE_EVENT_NAME } from '@spendline/sdk/contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';
import { encodeOtlpProtobuf, type RunningReceiver, startOtlpReceiver } from '../src/receiver/index.js';
import { OTLP_GRPC_PATHS } from '../src/receiver/otlpGrpcService.js';

let dir: string;
let receiver: RunningReceiver | undefined;
const clients: Client[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-receiver-grpc-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await receiver?.close();
  receiver = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const exportPath = () => join(dir, 'export.jsonl');
const lines = () =>
  readFileSync(exportPath(), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

async function start(
  extra: { maxBodyBytes?: number; writeSync?: () => number } = {},
): Promise<RunningReceiver> {
  receiver = await startOtlpReceiver({
    host: '127.0.0.1',
    port: 0,
    filePath: exportPath(),
    grpc: { host: '127.0.0.1', port: 0 },
    ...extra,
  });
  return receiver;
}

const LOGS_EXPORT = OTLP_GRPC_PATHS.logs;

/** One raw unary call, as any OTLP/gRPC client makes it; resolves with the error, if any. */
function rawExport(url: string, body: Buffer, gzip = false): Promise<ServiceError | null> {
  const client = new Client(
    new URL(url).host,
    credentials.createInsecure(),
    gzip ? { 'grpc.default_compression_algorithm': 2 } : {},
  );
  clients.push(client);
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      LOGS_EXPORT,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      new Metadata(),
      {},
      (err) => resolve(err ?? null),
    ),
  );
}

const request = {
  resourceLogs: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'search' } }] },
      scopeLogs: [
        {
          scope: { name: '@spendline/sdk' },
          logRecords: [
            {
              timeUnixNano: '1732919137455748800',
              eventName: USAGE_EVENT_NAME,
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'eee19b7ec3c1b174',
              attributes: [
                { key: ATTR.providerName, value: { stringValue: 'anthropic' } },
                { key: ATTR.requestModel, value: { stringValue: 'claude-sonnet-4-5' } },
                { key: ATTR.operationName, value: { stringValue: 'chat' } },
                { key: ATTR.inputTokens, value: { intValue: '9007199254740993' } },
                { key: ATTR.outputTokens, value: { intValue: '7' } },
              ],
            },
          ],
        },
      ],
    },
  ],
};

describe('local OTLP/gRPC receiver', () => {
  it('writes what the real OTLP gRPC log and trace exporters send as collector file-export lines', async () => {
    const r = await start();
    expect(r.grpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const resource = resourceFromAttributes({ 'service.name': 'checkout' });
    const logs = new LoggerProvider({
      resource,
      processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: r.grpcUrl }) })],
    });
    const traces = new BasicTracerProvider({
      resource,
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: r.grpcUrl }))],
    });
    const attributes = {
      [ATTR.operationName]: 'chat',
      [ATTR.providerName]: 'openai',
      [ATTR.requestModel]: 'gpt-4o-mini',
      [ATTR.inputTokens]: 120,
      [ATTR.outputTokens]: 30,
    };
    logs
      .getLogger('t')
      .emit({ eventName: USAGE_EVENT_NAME, attributes: { ...attributes, [ATTR.usageId]: 'u-1' } });
    traces
      .getTracer('t')
      .startSpan('chat gpt-4o-mini', { attributes: { ...attributes, [ATTR.usageId]: 'u-2' } })
      .end();
    await logs.forceFlush();
    await traces.forceFlush();
    await logs.shutdown();
    await traces.shutdown();
    const records = lines().flatMap((l) => decodeOtlpJsonLine(l).records);
    expect(records.map((x) => [x.source, x.dedupKey, x.service, x.tokens.inputTokens]).sort()).toEqual([
      ['log', 'u-1', 'checkout', 120],
      ['span', 'u-2', 'checkout', 120],
    ]);
    expect(r.stats()).toMatchObject({ accepted: 2, rejected: 0, linesWritten: 2 });
  });

  it('writes a request exactly as the HTTP protobuf path does, gzip-compressed or not', async () => {
    const r = await start();
    const body = Buffer.from(encodeOtlpProtobuf('logs', request));
    expect(await rawExport(r.grpcUrl as string, body)).toBeNull();
    expect(await rawExport(r.grpcUrl as string, body, true)).toBeNull();
    await fetch(`${r.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body,
    });
    const [viaGrpc, viaGzip, viaHttp] = lines();
    expect(JSON.parse(viaGrpc ?? '')).toEqual(request);
    expect(viaGzip).toBe(viaGrpc);
    expect(viaHttp).toBe(viaGrpc);
  });

  it('refuses garbage with INVALID_ARGUMENT and an oversize message with RESOURCE_EXHAUSTED, writing nothing', async () => {
    const r = await start({ maxBodyBytes: 4096 });
    const garbage = await rawExport(
      r.grpcUrl as string,
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
    );
    expect(garbage?.code).toBe(status.INVALID_ARGUMENT);
    expect(garbage?.details).toContain('invalid protobuf');
    const big = Buffer.from(
      encodeOtlpProtobuf('logs', {
        resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x'.repeat(10_000) } }] }] }],
      }),
    );
    expect((await rawExport(r.grpcUrl as string, big))?.code).toBe(status.RESOURCE_EXHAUSTED);
    // Compressed below the limit, over it once inflated: refused all the same.
    expect((await rawExport(r.grpcUrl as string, big, true))?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(readFileSync(exportPath(), 'utf8')).toBe('');
  });

  it('answers UNAVAILABLE (which exporters retry) when the export file cannot be written', async () => {
    const r = await start({
      writeSync: () => {
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      },
    });
    const err = await rawExport(r.grpcUrl as string, Buffer.from(encodeOtlpProtobuf('logs', request)));
    expect(err?.code).toBe(status.UNAVAILABLE);
    expect(r.stats()).toMatchObject({ rejected: 1, writeFailures: 1, linesWritten: 0 });
  });
});

describe('OTLP metrics', () => {
  it('are acknowledged and dropped over HTTP and gRPC (the GenAI export carries logs and traces only)', async () => {
    const r = await start();
    const metrics = Buffer.from([0x0a, 0x00]); // an ExportMetricsServiceRequest with one empty ResourceMetrics
    const viaHttp = await fetch(`${r.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: metrics,
    });
    expect(viaHttp.status).toBe(200);
    const json = await fetch(`${r.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceMetrics":[]}',
    });
    expect(json.status).toBe(200);
    const client = new Client(new URL(r.grpcUrl as string).host, credentials.createInsecure());
    clients.push(client);
    const err = await new Promise<ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        OTLP_GRPC_PATHS.metrics,
        (b: Buffer) => b,
        (b: Buffer) => b,
        metrics,
        new Metadata(),
        {},
        (e) => resolve(e ?? null),
      ),
    );
    expect(err).toBeNull();
    expect(r.stats()).toMatchObject({ metricsDiscarded: 3, linesWritten: 0, rejected: 0 });
    // Still bounded: an oversize metrics body is refused like any other.
    const small = await startOtlpReceiver({
      host: '127.0.0.1',
      port: 0,
      filePath: join(dir, 'b.jsonl'),
      maxBodyBytes: 16,
    });
    const big = await fetch(`${small.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceMetrics: [{ x: 'y'.repeat(100) }] }),
    });
    await small.close();
    expect(big.status).toBe(413);
  });
});
