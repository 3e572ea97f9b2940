import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR, USAGE_EVENT_NAME } from '@spendline/sdk/contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';
import {
  encodeOtlpProtobuf,
  listBackups,
  RotatingFile,
  type RunningReceiver,
  startOtlpReceiver,
} from '../src/receiver/index.js';

let dir: string;
let receiver: RunningReceiver | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-receiver-'));
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const exportPath = () => join(dir, 'export.jsonl');
const lines = (path = exportPath()) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

const usageAttributes = {
  [ATTR.operationName]: 'chat',
  [ATTR.providerName]: 'openai',
  [ATTR.requestModel]: 'gpt-4o-mini',
  [ATTR.inputTokens]: 120,
  [ATTR.outputTokens]: 30,
  [ATTR.usageId]: 'u-1',
};

describe('local OTLP/HTTP receiver', () => {
  it('writes what the real OTLP JSON log and trace exporters send as collector file-export lines', async () => {
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: exportPath() });
    const resource = resourceFromAttributes({ 'service.name': 'checkout' });
    const logs = new LoggerProvider({
      resource,
      processors: [
        new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${receiver.url}/v1/logs` }) }),
      ],
    });
    const traces = new BasicTracerProvider({
      resource,
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }))],
    });
    logs.getLogger('t').emit({ eventName: USAGE_EVENT_NAME, attributes: usageAttributes });
    const span = traces
      .getTracer('t')
      .startSpan('chat gpt-4o-mini', { attributes: { ...usageAttributes, [ATTR.usageId]: 'u-2' } });
    span.end();
    await logs.forceFlush();
    await traces.forceFlush();
    await logs.shutdown();
    await traces.shutdown();

    const written = lines();
    expect(written).toHaveLength(2);
    const decoded = written.map((l) => decodeOtlpJsonLine(l));
    const records = decoded.flatMap((d) => d.records);
    expect(
      records
        .map((r) => [r.source, r.dedupKey, r.service, r.tokens.inputTokens, r.tokens.outputTokens])
        .sort(),
    ).toEqual([
      ['log', 'u-1', 'checkout', 120, 30],
      ['span', 'u-2', 'checkout', 120, 30],
    ]);
    const spanLine = JSON.parse(written.find((l) => l.includes('resourceSpans')) ?? '{}');
    const sent = spanLine.resourceSpans[0].scopeSpans[0].spans[0];
    expect(sent.traceId).toBe(span.spanContext().traceId);
    expect(sent.spanId).toBe(span.spanContext().spanId);
    expect(receiver.stats()).toMatchObject({ accepted: 2, rejected: 0, linesWritten: 2 });
  });

  it('accepts protobuf bodies, gzip-compressed, and writes them as OTLP JSON with hex ids and string int64s', async () => {
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: exportPath() });
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
                    { key: ATTR.outputTokens, value: { intValue: '0' } },
                    { key: ATTR.costUsd, value: { doubleValue: 0.25 } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    const body = gzipSync(encodeOtlpProtobuf('logs', request));
    const res = await fetch(`${receiver.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const [line] = lines();
    expect(JSON.parse(line ?? '')).toEqual(request);
  });

  it('rejects malformed input with 400 and a reason, and writes nothing', async () => {
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: exportPath() });
    const post = (path: string, type: string, body: string | Uint8Array<ArrayBuffer>, encoding?: string) =>
      fetch(`${receiver?.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': type, ...(encoding ? { 'content-encoding': encoding } : {}) },
        body,
      });
    const cases = [
      await post('/v1/logs', 'application/json', '{"resourceLogs": ['),
      await post('/v1/logs', 'application/json', '[1,2]'),
      await post('/v1/traces', 'application/json', '{"resourceSpans": 3}'),
      await post('/v1/logs', 'application/x-protobuf', new Uint8Array([0x0a, 0xff, 0xff, 0xff])),
      await post('/v1/logs', 'application/json', 'not gzip', 'gzip'),
    ];
    expect(cases.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    expect((await cases[0]?.json()) as { message: string }).toMatchObject({
      message: expect.stringMatching(/malformed JSON/),
    });
    expect((await post('/v1/logs', 'text/plain', 'x')).status).toBe(415);
    expect((await post('/v1/profiles', 'application/json', '{}')).status).toBe(404);
    expect(lines()).toEqual([]);
  });

  it('rejects OTLP/JSON with a wrong type where the message has an object or an array, as the collector does, and writes nothing', async () => {
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: exportPath() });
    const post = (path: string, body: string) =>
      fetch(`${receiver?.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const log = (record: unknown) =>
      JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] });
    const span = (s: unknown) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [s] }] }] });
    // [path, body, where the reason points]
    const refused: [string, string, string][] = [
      ['/v1/logs', '{"resourceLogs":[5]}', 'resourceLogs[0] must be an object, not a number'],
      ['/v1/traces', '{"resourceSpans":["x"]}', 'resourceSpans[0] must be an object, not a string'],
      ['/v1/traces', '{"resourceSpans":3}', 'resourceSpans must be an array, not a number'],
      ['/v1/logs', '{"resource_logs":[[]]}', 'resource_logs[0] must be an object, not an array'],
      ['/v1/logs', '{"resourceLogs":[{"resource":[]}]}', 'resourceLogs[0].resource must be an object'],
      [
        '/v1/logs',
        '{"resourceLogs":[{"resource":{"attributes":{}}}]}',
        'resource.attributes must be an array',
      ],
      [
        '/v1/logs',
        '{"resourceLogs":[{"resource":{"attributes":[7]}}]}',
        'resource.attributes[0] must be an object',
      ],
      ['/v1/logs', '{"resourceLogs":[{"scopeLogs":{}}]}', 'resourceLogs[0].scopeLogs must be an array'],
      [
        '/v1/logs',
        '{"resourceLogs":[{},{"scopeLogs":[{},true]}]}',
        'resourceLogs[1].scopeLogs[1] must be an object',
      ],
      [
        '/v1/logs',
        '{"resourceLogs":[{"scopeLogs":[{"scope":"s"}]}]}',
        'scopeLogs[0].scope must be an object',
      ],
      [
        '/v1/logs',
        '{"resourceLogs":[{"scopeLogs":[{"scope":{"attributes":"a"}}]}]}',
        'scope.attributes must be an array',
      ],
      [
        '/v1/logs',
        '{"resourceLogs":[{"scopeLogs":[{"logRecords":"x"}]}]}',
        'scopeLogs[0].logRecords must be an array',
      ],
      ['/v1/logs', log(1), 'logRecords[0] must be an object, not a number'],
      ['/v1/logs', log({ attributes: 'a' }), 'logRecords[0].attributes must be an array'],
      [
        '/v1/logs',
        log({ attributes: [{ key: 'a', value: {} }, 'b'] }),
        'logRecords[0].attributes[1] must be an object',
      ],
      ['/v1/logs', log({ attributes: [{ key: 'a', value: 'v' }] }), 'attributes[0].value must be an object'],
      ['/v1/logs', log({ body: 'hello' }), 'logRecords[0].body must be an object'],
      [
        '/v1/traces',
        '{"resourceSpans":[{"scopeSpans":[false]}]}',
        'resourceSpans[0].scopeSpans[0] must be an object',
      ],
      [
        '/v1/traces',
        '{"resourceSpans":[{"scopeSpans":[{"spans":{}}]}]}',
        'scopeSpans[0].spans must be an array',
      ],
      ['/v1/traces', span('s'), 'spans[0] must be an object, not a string'],
      ['/v1/traces', span({ attributes: [1] }), 'spans[0].attributes[0] must be an object'],
      [
        '/v1/traces',
        span({ events: [{ attributes: 'a' }] }),
        'spans[0].events[0].attributes must be an array',
      ],
      ['/v1/traces', span({ links: 1 }), 'spans[0].links must be an array'],
    ];
    for (const [path, body, reason] of refused) {
      const res = await post(path, body);
      expect(res.status, body).toBe(400);
      const { message } = (await res.json()) as { message: string };
      expect(message, body).toMatch(/^malformed OTLP (logs|traces) request: /);
      expect(message, body).toContain(reason);
    }
    expect(lines()).toEqual([]);
    expect(receiver.stats()).toMatchObject({ accepted: 0, rejected: refused.length });

    // What the collector accepts: null for an absent field or an empty entry, unknown fields of any type.
    const accepted: [string, string][] = [
      ['/v1/logs', '{"resourceLogs":null}'],
      ['/v1/logs', '{"resourceLogs":[],"somethingNew":[5]}'],
      [
        '/v1/logs',
        '{"resourceLogs":[null,{"resource":null,"x":1,"scopeLogs":[null,{"scope":null,"logRecords":[null,' +
          '{"attributes":[null,{"key":"k","value":null}],"body":null,"extra":"x"}]}]}]}',
      ],
      [
        '/v1/traces',
        span({ attributes: null, events: [null, { attributes: null }], links: [{}], status: null }),
      ],
    ];
    for (const [path, body] of accepted) expect((await post(path, body)).status, body).toBe(200);
    const valid = log({ attributes: [{ key: 'k', value: { stringValue: 'v' } }] });
    expect((await post('/v1/logs', valid)).status).toBe(200);
    expect(lines()).toContain(valid);
  });

  it('refuses bodies over the size limit with 413, also when they only grow past it after gunzip', async () => {
    receiver = await startOtlpReceiver({
      host: '127.0.0.1',
      port: 0,
      filePath: exportPath(),
      maxBodyBytes: 1024,
    });
    const big = JSON.stringify({
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'x'.repeat(4096) } }] }] }],
    });
    const plain = await fetch(`${receiver.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect(plain.status).toBe(413);
    const zipped = gzipSync(big);
    expect(zipped.length).toBeLessThan(1024);
    const bomb = await fetch(`${receiver.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: zipped,
    });
    expect(bomb.status).toBe(413);
    expect(lines()).toEqual([]);
  });
});

describe('rotating export file', () => {
  it('renames the full file to <name>-<UTC timestamp>.<ext>, starts anew, and keeps max backups', () => {
    let t = Date.UTC(2026, 10, 22, 23, 59, 58, 120);
    const file = new RotatingFile({
      path: exportPath(),
      maxBytes: 25,
      maxBackups: 2,
      now: () => new Date(t),
    });
    for (let i = 0; i < 8; i++) {
      file.appendLine(`line-${i}-${'x'.repeat(5)}`); // 14 bytes with newline: one full file holds 1 line
      t += 1000;
    }
    file.close();
    const backups = listBackups(exportPath());
    expect(backups.map((b) => b.slice(dir.length + 1))).toEqual([
      'export-2026-11-23T00-00-04.120.jsonl', // holds line 5, rotated out when line 6 arrived
      'export-2026-11-23T00-00-05.120.jsonl', // holds line 6, rotated out when line 7 arrived
    ]);
    expect(lines()).toEqual(['line-7-xxxxx']);
    expect(lines(backups[1])).toEqual(['line-6-xxxxx']);
  });
});
