import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATTR, CONTENT_ATTRS, USAGE_EVENT_NAME } from '@spendline/sdk/contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';
import { type RunningReceiver, startOtlpReceiver } from '../src/receiver/index.js';

// The collector's OTLP/JSON unmarshaler (pdata) reads every field under its lowerCamelCase name and its
// proto (snake_case) name, and writes lowerCamelCase. `spendline up`'s receiver must write what the
// collector would: content stripped whatever the spelling, and a line the sidecar's decoder counts.
const SECRET = 'SECRET PROMPT TEXT';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
const str = (stringValue: string) => ({ stringValue });
const kv = (key: string, value: Json) => ({ key, value });

/** One attribute per CONTENT_ATTRS entry (a prefix entry gets a name under it), each holding SECRET. */
const contentAttributes = (): Json[] => [
  ...CONTENT_ATTRS.map((n) => kv(n.endsWith('*') ? `${n.slice(0, -1)}.0.content` : n, str(SECRET))),
  // Structured content too (semconv messages as an AnyValue): nested arrays and maps.
  kv('gen_ai.input.messages', {
    arrayValue: {
      values: [
        {
          kvlistValue: {
            values: [kv('role', str('user')), kv('parts', { arrayValue: { values: [str(SECRET)] } })],
          },
        },
      ],
    },
  }),
];
const usage = (usageId?: string): Json[] => [
  kv(ATTR.operationName, str('chat')),
  kv(ATTR.providerName, str('openai')),
  kv(ATTR.requestModel, str('gpt-4o-mini')),
  kv(ATTR.inputTokens, { intValue: '120' }),
  kv(ATTR.outputTokens, { intValue: 30 }),
  kv('gen_ai.usage.cached', { boolValue: false }),
  kv('gen_ai.request.temperature', { doubleValue: 0.2 }),
  kv('gen_ai.request.seed', { bytesValue: 'AQI=' }),
  ...(usageId === undefined ? [] : [kv(ATTR.usageId, str(usageId))]),
];
const resource = {
  attributes: [kv('service.name', str('chat-api'))],
  droppedAttributesCount: 1,
};
const scope = {
  name: '@spendline/sdk',
  version: '1.0.0',
  attributes: [kv('s', str('v'))],
  droppedAttributesCount: 2,
};
const now = BigInt(Date.now()) * 1_000_000n;
const nanos = (msBefore: number) => String(now - BigInt(msBefore) * 1_000_000n);

/** A GenAI usage event (content in attributes and body), an older semconv event and an ordinary log. */
function logsRequest(): Json {
  return {
    resourceLogs: [
      {
        resource,
        scopeLogs: [
          {
            scope,
            logRecords: [
              {
                timeUnixNano: nanos(2000),
                observedTimeUnixNano: nanos(1000),
                severityNumber: 9,
                severityText: 'INFO',
                eventName: USAGE_EVENT_NAME,
                body: str(SECRET),
                attributes: [...usage('u-log'), ...contentAttributes()],
                droppedAttributesCount: 3,
                flags: 1,
                traceId: '5B8EFFF798038103D269B633813FC60C',
                spanId: 'EEE19B7EC3C1B174',
              },
              {
                timeUnixNano: nanos(1500),
                body: { kvlistValue: { values: [kv('content', str(SECRET))] } },
                attributes: [kv('event.name', str('gen_ai.user.message'))],
              },
              {
                timeUnixNano: nanos(1400),
                body: str('cache warmed'),
                attributes: [kv('app.step', str('warmup'))],
              },
            ],
            schemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
          },
        ],
        schemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
      },
    ],
  };
}

/** A chat span (no usage id: its dedup key is its ids) with a content event and a link. */
function tracesRequest(): Json {
  return {
    resourceSpans: [
      {
        resource,
        scopeSpans: [
          {
            scope,
            spans: [
              {
                traceId: 'A1B2C3D4E5F60718293A4B5C6D7E8F90',
                spanId: '0102030405060708',
                parentSpanId: '1112131415161718',
                traceState: 'k=v',
                flags: 1,
                name: 'chat gpt-4o-mini',
                kind: 3,
                startTimeUnixNano: nanos(3000),
                endTimeUnixNano: nanos(1000),
                attributes: [...usage(), ...contentAttributes()],
                droppedAttributesCount: 1,
                events: [
                  {
                    timeUnixNano: nanos(1100),
                    name: 'gen_ai.choice',
                    attributes: [...contentAttributes(), kv('gen_ai.response.finish_reasons', str('stop'))],
                    droppedAttributesCount: 1,
                  },
                ],
                droppedEventsCount: 1,
                links: [
                  {
                    traceId: 'FFB2C3D4E5F60718293A4B5C6D7E8F90',
                    spanId: 'FF02030405060708',
                    traceState: 'a=b',
                    attributes: [kv('link.kind', str('retry'))],
                    droppedAttributesCount: 1,
                    flags: 1,
                  },
                ],
                droppedLinksCount: 1,
                status: { message: 'ok', code: 1 },
              },
            ],
          },
        ],
      },
    ],
  };
}

const toSnake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The same request with its field names spelled the proto way where `pick(depth)` says so. Attribute
 * names are values (`key`), never object keys, so every object key in a request is a proto field name.
 */
function respell(value: Json, pick: (depth: number) => boolean, depth = 0): Json {
  if (Array.isArray(value)) return value.map((v) => respell(v, pick, depth));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [pick(depth) ? toSnake(k) : k, respell(v, pick, depth + 1)]),
  );
}
const snake = (value: Json) => respell(value, () => true);

/** Every object key of a JSON text (to show none is spelled the proto way). */
function keysOf(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, out);
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keysOf(v, out);
    }
  return out;
}
const snakeKeys = (line: string) => [...keysOf(JSON.parse(line))].filter((k) => k.includes('_'));

let dir: string;
let receiver: RunningReceiver | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-receiver-snake-'));
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const exportFile = () => join(dir, 'export.jsonl');
const lines = () =>
  readFileSync(exportFile(), 'utf8')
    .split('\n')
    .filter((l) => l !== '');
async function start(keepContent?: boolean): Promise<RunningReceiver> {
  receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: exportFile(), keepContent });
  return receiver;
}
async function post(signal: 'logs' | 'traces', body: Json): Promise<void> {
  const res = await fetch(`${receiver?.url}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.text()).toBe(200);
}
/** What the sidecar counts from a line. */
const counted = (line: string) =>
  decodeOtlpJsonLine(line).records.map((r) => [
    r.source,
    r.dedupKey,
    r.service,
    r.provider,
    r.requestModel,
    r.tokens.inputTokens,
    r.tokens.outputTokens,
  ]);

describe('receiver: OTLP/JSON field names spelled the proto way (snake_case)', () => {
  it('a snake_case logs request: no content written, the line the camelCase request gives, counted the same', async () => {
    await start();
    await post('logs', logsRequest());
    await post('logs', snake(logsRequest()));
    const [camel, snaked, ...rest] = lines();
    expect(rest).toEqual([]);
    expect(camel).not.toContain(SECRET);
    expect(snaked).not.toContain(SECRET);
    expect(snakeKeys(snaked ?? '')).toEqual([]);
    expect(snaked).toBe(camel);
    expect(counted(snaked ?? '')).toEqual([['log', 'u-log', 'chat-api', 'openai', 'gpt-4o-mini', 120, 30]]);
    expect(decodeOtlpJsonLine(snaked ?? '')).toEqual(decodeOtlpJsonLine(camel ?? ''));
    // The GenAI records' bodies are cleared, the ordinary one kept; ids lowercase as the collector writes.
    const records = JSON.parse(snaked ?? '').resourceLogs[0].scopeLogs[0].logRecords;
    expect(records.map((r: { body: unknown }) => r.body)).toEqual([str(''), str(''), str('cache warmed')]);
    expect([records[0].traceId, records[0].spanId]).toEqual([
      '5b8efff798038103d269b633813fc60c',
      'eee19b7ec3c1b174',
    ]);
  });

  it('a snake_case traces request: no content in the span or its event, the camelCase line, counted by its ids', async () => {
    await start();
    await post('traces', tracesRequest());
    await post('traces', snake(tracesRequest()));
    const [camel, snaked, ...rest] = lines();
    expect(rest).toEqual([]);
    expect(snaked).not.toContain(SECRET);
    expect(snakeKeys(snaked ?? '')).toEqual([]);
    expect(snaked).toBe(camel);
    expect(counted(snaked ?? '')).toEqual([
      [
        'span',
        'a1b2c3d4e5f60718293a4b5c6d7e8f90:0102030405060708',
        'chat-api',
        'openai',
        'gpt-4o-mini',
        120,
        30,
      ],
    ]);
    expect(decodeOtlpJsonLine(snaked ?? '')).toEqual(decodeOtlpJsonLine(camel ?? ''));
    const span = JSON.parse(snaked ?? '').resourceSpans[0].scopeSpans[0].spans[0];
    expect(span.parentSpanId).toBe('1112131415161718');
    expect(span.links[0]).toMatchObject({
      traceId: 'ffb2c3d4e5f60718293a4b5c6d7e8f90',
      spanId: 'ff02030405060708',
    });
    expect(span.events[0].attributes).toEqual([kv('gen_ai.response.finish_reasons', str('stop'))]);
  });

  it('mixed spellings (either at every other level) give the camelCase line', async () => {
    await start();
    const requests: ['logs' | 'traces', Json][] = [
      ['logs', logsRequest()],
      ['traces', tracesRequest()],
    ];
    for (const [signal, request] of requests) {
      await post(signal, request);
      await post(
        signal,
        respell(request, (d) => d % 2 === 0),
      );
      await post(
        signal,
        respell(request, (d) => d % 2 === 1),
      );
    }
    const written = lines();
    expect(written).toHaveLength(6);
    for (const line of written) {
      expect(line).not.toContain(SECRET);
      expect(snakeKeys(line)).toEqual([]);
    }
    expect(written.slice(1, 3)).toEqual([written[0], written[0]]);
    expect(written.slice(4, 6)).toEqual([written[3], written[3]]);
    expect(counted(written[1] ?? '')).toEqual(counted(written[0] ?? ''));
    expect(counted(written[4] ?? '')).toEqual(counted(written[3] ?? ''));
  });

  it('one field under both names: lists appended in order, anything else the last one, as pdata reads them', async () => {
    await start();
    const record = (usageId: string, extra: Record<string, Json> = {}) => ({
      time_unix_nano: nanos(100),
      event_name: USAGE_EVENT_NAME,
      attributes: [...usage(usageId), ...contentAttributes()],
      ...extra,
    });
    await post('logs', {
      resource_logs: [
        {
          scope_logs: [{ log_records: [record('u-1')], logRecords: [record('u-2')] }],
          scopeLogs: [{ logRecords: [record('u-3')] }],
        },
      ],
      resourceLogs: [{ scopeLogs: [{ log_records: [record('u-4')] }] }],
    });
    await post('logs', {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  eventName: 'ignored',
                  time_unix_nano: '1',
                  timeUnixNano: nanos(5000),
                  event_name: USAGE_EVENT_NAME,
                  trace_id: 'AA',
                  traceId: '00112233445566778899AABBCCDDEEFF',
                  span_id: '0011223344556677',
                  attributes: [
                    ...usage().filter((a) => (a as { key: string }).key !== ATTR.inputTokens),
                    // An AnyValue is a oneof: the member read last is the value.
                    kv(ATTR.inputTokens, { intValue: '7', string_value: 'x', int_value: '120' }),
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const [appended, lastWins, ...rest] = lines();
    expect(rest).toEqual([]);
    expect(appended).not.toContain(SECRET);
    expect(snakeKeys(appended ?? '')).toEqual([]);
    expect(decodeOtlpJsonLine(appended ?? '').records.map((r) => r.dedupKey)).toEqual([
      'u-1',
      'u-2',
      'u-3',
      'u-4',
    ]);
    const parsed = JSON.parse(appended ?? '');
    expect(parsed.resourceLogs).toHaveLength(2);
    expect(parsed.resourceLogs[0].scopeLogs).toHaveLength(2);
    expect(parsed.resourceLogs[0].scopeLogs[0].logRecords).toHaveLength(2);
    const written = JSON.parse(lastWins ?? '').resourceLogs[0].scopeLogs[0].logRecords[0];
    expect(written).toMatchObject({
      eventName: USAGE_EVENT_NAME,
      timeUnixNano: nanos(5000),
      traceId: '00112233445566778899aabbccddeeff',
      spanId: '0011223344556677',
    });
    expect(written.attributes.at(-1)).toEqual(kv(ATTR.inputTokens, { intValue: '120' }));
    expect(counted(lastWins ?? '')).toEqual([
      [
        'log',
        '00112233445566778899aabbccddeeff:0011223344556677',
        'unknown_service',
        'openai',
        'gpt-4o-mini',
        120,
        30,
      ],
    ]);
  });

  it('deprecated scope lists are read only when the current one is empty, as pdata migrates them', async () => {
    await start();
    const logs = (scopes: Record<string, Json>) => ({ resource_logs: [{ resource, ...scopes }] });
    const logScope = (usageId: string) => [
      {
        scope,
        log_records: [
          {
            time_unix_nano: nanos(100),
            event_name: USAGE_EVENT_NAME,
            attributes: [...usage(usageId), ...contentAttributes()],
          },
        ],
      },
    ];
    const spanScope = (spanId: string) => [
      {
        spans: [
          {
            trace_id: 'A1B2C3D4E5F60718293A4B5C6D7E8F90',
            span_id: spanId,
            end_time_unix_nano: nanos(10),
            attributes: [...usage(), ...contentAttributes()],
            events: [{ name: 'gen_ai.choice', attributes: contentAttributes() }],
          },
        ],
      },
    ];
    await post('logs', logs({ deprecated_scope_logs: logScope('u-deprecated') }));
    await post('logs', logs({ scopeLogs: [], deprecatedScopeLogs: logScope('u-camel-deprecated') }));
    await post(
      'logs',
      logs({ scope_logs: logScope('u-current'), deprecated_scope_logs: logScope('u-dropped') }),
    );
    await post('traces', { resource_spans: [{ deprecated_scope_spans: spanScope('0000000000000001') }] });
    await post('traces', {
      resourceSpans: [
        { scope_spans: spanScope('0000000000000002'), deprecatedScopeSpans: spanScope('0000000000000003') },
      ],
    });
    const written = lines();
    expect(written).toHaveLength(5);
    for (const line of written) {
      expect(line).not.toContain(SECRET);
      expect(snakeKeys(line)).toEqual([]);
      expect([...keysOf(JSON.parse(line))].filter((k) => /deprecated/i.test(k))).toEqual([]);
    }
    expect(written.map((l) => decodeOtlpJsonLine(l).records.map((r) => r.dedupKey))).toEqual([
      ['u-deprecated'],
      ['u-camel-deprecated'],
      ['u-current'],
      ['a1b2c3d4e5f60718293a4b5c6d7e8f90:0000000000000001'],
      ['a1b2c3d4e5f60718293a4b5c6d7e8f90:0000000000000002'],
    ]);
  });

  it('fields the OTLP messages do not define are not written (the collector drops them), nor content in them', async () => {
    await start();
    await post('logs', {
      resourceLogs: [
        {
          resource: { ...resource, Attributes: [kv('gen_ai.input.messages', str(SECRET))] },
          scopeLogs: [
            {
              scope,
              logRecords: [
                {
                  timeUnixNano: nanos(100),
                  eventName: USAGE_EVENT_NAME,
                  attributes: [
                    ...usage('u-1').map((a) => ({ ...(a as Record<string, Json>), note: SECRET })),
                    kv('x', { stringValue: 'ok', prompt: SECRET }),
                  ],
                  'gen_ai.input.messages': SECRET,
                  logRecordBody: { stringValue: SECRET },
                },
              ],
              extra: SECRET,
            },
          ],
        },
      ],
      partialSuccess: { errorMessage: SECRET },
    });
    const [line, ...rest] = lines();
    expect(rest).toEqual([]);
    expect(line).not.toContain(SECRET);
    expect(counted(line ?? '')).toEqual([['log', 'u-1', 'chat-api', 'openai', 'gpt-4o-mini', 120, 30]]);
    expect([...keysOf(JSON.parse(line ?? ''))].sort()).toEqual(
      [
        'resourceLogs',
        'resource',
        'attributes',
        'droppedAttributesCount',
        'key',
        'value',
        'stringValue',
        'intValue',
        'boolValue',
        'doubleValue',
        'bytesValue',
        'scopeLogs',
        'scope',
        'name',
        'version',
        'logRecords',
        'timeUnixNano',
        'eventName',
      ].sort(),
    );
  });

  it('renames inside AnyValues nested deep (arrays in maps in arrays), without recursion limits', async () => {
    await start();
    // 60 levels of array_value / kvlist_value: about 200 levels of JSON nesting, under the 256 accepted.
    let value: Json = { string_value: 'leaf' };
    let camelValue: Json = { stringValue: 'leaf' };
    for (let i = 0; i < 60; i++) {
      value =
        i % 2 === 0 ? { array_value: { values: [value] } } : { kvlist_value: { values: [kv('k', value)] } };
      camelValue =
        i % 2 === 0
          ? { arrayValue: { values: [camelValue] } }
          : { kvlistValue: { values: [kv('k', camelValue)] } };
    }
    const request = (v: Json) => ({
      resource_logs: [
        { scope_logs: [{ log_records: [{ event_name: 'app.deep', attributes: [kv('deep', v)] }] }] },
      ],
    });
    await post('logs', request(value));
    const [line] = lines();
    expect(snakeKeys(line ?? '')).toEqual([]);
    expect(JSON.parse(line ?? '')).toEqual({
      resourceLogs: [
        { scopeLogs: [{ logRecords: [{ eventName: 'app.deep', attributes: [kv('deep', camelValue)] }] }] },
      ],
    });
  });

  it('keeps the content with --keep-content, still under the collector names', async () => {
    await start(true);
    await post('logs', logsRequest());
    await post('logs', snake(logsRequest()));
    await post('traces', tracesRequest());
    await post(
      'traces',
      respell(tracesRequest(), (d) => d % 2 === 1),
    );
    const [camelLogs, snakeLogs, camelTraces, mixedTraces, ...rest] = lines();
    expect(rest).toEqual([]);
    for (const line of [snakeLogs, mixedTraces]) expect(snakeKeys(line ?? '')).toEqual([]);
    expect(snakeLogs).toBe(camelLogs);
    expect(mixedTraces).toBe(camelTraces);
    const perRecord = CONTENT_ATTRS.length + 1;
    // The GenAI event's attributes and both GenAI bodies; the span's and its event's attributes.
    expect((snakeLogs ?? '').split(SECRET).length - 1).toBe(perRecord + 2);
    expect((mixedTraces ?? '').split(SECRET).length - 1).toBe(2 * perRecord);
    expect(counted(snakeLogs ?? '')).toEqual([
      ['log', 'u-log', 'chat-api', 'openai', 'gpt-4o-mini', 120, 30],
    ]);
  });
});
