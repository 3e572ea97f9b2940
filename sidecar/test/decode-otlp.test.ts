import { readFileSync } from 'node:fs';
import { ALIAS_ATTR, ATTR, USAGE_EVENT_NAME } from '@spendline/sdk/contract';
import { describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine, MAX_TOKENS_PER_RECORD, type UsageRecord } from '../src/decode/index.js';

const FIXTURES = new URL('./fixtures/collector/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), 'utf8');

type Value =
  | { stringValue: string }
  | { intValue: string | number }
  | { doubleValue: number }
  | Record<string, unknown>;
type Attr = { key: string; value: Value };
const s = (key: string, v: string): Attr => ({ key, value: { stringValue: v } });
const i = (key: string, v: string | number): Attr => ({ key, value: { intValue: v } });
const d = (key: string, v: number): Attr => ({ key, value: { doubleValue: v } });

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const T_NANO = '1767225600123456789'; // 2026-01-01T00:00:00.123456789Z

const CHAT: Attr[] = [
  s(ATTR.operationName, 'chat'),
  s(ATTR.providerName, 'openai'),
  s(ATTR.requestModel, 'gpt-4o'),
  i(ATTR.inputTokens, '1200'),
  i(ATTR.outputTokens, '300'),
];

function logLine(records: object[], resource: Attr[] = [s('service.name', 'checkout')]): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: resource },
        scopeLogs: [{ scope: { name: '@spendline/sdk' }, logRecords: records }],
      },
    ],
  });
}

function usageLog(attributes: Attr[], extra: Record<string, unknown> = {}): object {
  return {
    timeUnixNano: T_NANO,
    observedTimeUnixNano: '1767225601000000000',
    severityNumber: 9,
    eventName: USAGE_EVENT_NAME,
    attributes,
    flags: 1,
    traceId: TRACE,
    spanId: SPAN,
    ...extra,
  };
}

function spanLine(spans: object[], resource: Attr[] = [s('service.name', 'agent-svc')]): string {
  return JSON.stringify({
    resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'x' }, spans }] }],
  });
}

function span(attributes: Attr[], extra: Record<string, unknown> = {}): object {
  return {
    traceId: TRACE,
    spanId: SPAN,
    name: 'chat gpt-4o',
    kind: 3,
    startTimeUnixNano: '1767225598623456789',
    endTimeUnixNano: T_NANO,
    attributes,
    status: {},
    ...extra,
  };
}

/** A record's tokens: input (incl. cached), output (incl. reasoning), cache read, cache write, reasoning. */
function tokens(input: number, output: number, cacheRead: number, cacheWrite: number, reasoning: number) {
  return {
    inputTokens: input,
    outputTokens: output,
    cacheReadInputTokens: cacheRead,
    cacheCreationInputTokens: cacheWrite,
    reasoningOutputTokens: reasoning,
  };
}

function only(line: string): UsageRecord {
  const out = decodeOtlpJsonLine(line);
  expect(out.rejected).toEqual([]);
  expect(out.records).toHaveLength(1);
  return out.records[0] as UsageRecord;
}

function rejection(line: string) {
  const out = decodeOtlpJsonLine(line);
  expect(out.records).toEqual([]);
  expect(out.rejected).toHaveLength(1);
  return out.rejected[0]?.reason;
}

describe('decodeOtlpJsonLine: the real collector fixtures', () => {
  it('ignores every ordinary application log of the otel-demo export (19, 2, 15 and 1 records)', () => {
    const lines = fixture('otel-demo-logs.head.jsonl').split('\n').filter(Boolean);
    const outs = lines.map(decodeOtlpJsonLine);
    expect(outs.map((o) => o.ignored)).toEqual([19, 2, 15, 1]);
    expect(outs.flatMap((o) => [...o.records, ...o.rejected])).toEqual([]);
  });

  it('counts ignored records exactly also when a line has to be parsed', () => {
    const line = fixture('otel-demo-logs.head.jsonl').split('\n')[0] ?? '';
    const doc = JSON.parse(line);
    doc.resourceLogs[0].scopeLogs[0].logRecords[3].attributes.push(s(ATTR.operationName, 'chat'));
    const out = decodeOtlpJsonLine(JSON.stringify(doc));
    expect(out).toEqual({ records: [], rejected: [], ignored: 19 });
  });

  it('reads the pretty-printed official examples as one line each: the page_view event and server span are ignored', () => {
    expect(decodeOtlpJsonLine(fixture('otlp-proto-example-events.json'))).toEqual({
      records: [],
      rejected: [],
      ignored: 1,
    });
    expect(decodeOtlpJsonLine(fixture('otlp-proto-example-trace.json'))).toEqual({
      records: [],
      rejected: [],
      ignored: 1,
    });
  });

  it('decodes the official event example once it is a usage event (no ids: the key is a hash of the line)', () => {
    const doc = JSON.parse(fixture('otlp-proto-example-events.json'));
    const rec = doc.resourceLogs[0].scopeLogs[0].logRecords[0];
    rec.eventName = USAGE_EVENT_NAME;
    rec.attributes = CHAT;
    const text = JSON.stringify(doc, null, 2);
    const r = only(text);
    expect(r.service).toBe('my.service');
    expect(r.timestampMs).toBe(1544712660300);
    expect(r.dedupKey).toMatch(/^line:[0-9a-f]{32}:1$/);
    expect(only(text).dedupKey).toBe(r.dedupKey);
  });

  it('decodes the official trace example as an inference span with uppercase ids lowercased', () => {
    const doc = JSON.parse(fixture('otlp-proto-example-trace.json'));
    doc.resourceSpans[0].scopeSpans[0].spans[0].attributes.push(...CHAT);
    const r = only(JSON.stringify(doc, null, 2));
    expect(r.dedupKey).toBe('5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174');
    expect(r.source).toBe('span');
    expect(r.timestampMs).toBe(1544712661000);
    expect(r.durationMs).toBe(1000);
    expect(r.tokens.inputTokens).toBe(1200);
  });
});

describe('decodeOtlpJsonLine: usage events as the SDK writes them', () => {
  it('maps every contract attribute and resource attribute', () => {
    const attrs: Attr[] = [
      s(ATTR.userId, 'u-1'),
      s(ATTR.sessionId, 'sess-1'),
      s(ATTR.feature, 'search'),
      s(ATTR.taskId, 'task-9'),
      s(ATTR.tenantId, 'acme'),
      s(ATTR.agentName, 'planner'),
      s(ATTR.executionPath, 'planner/search'),
      s(ATTR.conversationId, 'conv-3'),
      s(ATTR.operationName, 'chat'),
      s(ATTR.providerName, 'anthropic'),
      s(ATTR.requestModel, 'claude-sonnet-4'),
      s(ATTR.responseModel, 'claude-sonnet-4-20250514'),
      i(ATTR.inputTokens, '5000'),
      i(ATTR.outputTokens, '800'),
      i(ATTR.cacheReadInputTokens, '3000'),
      i(ATTR.cacheCreationInputTokens, '1000'),
      i(ATTR.reasoningOutputTokens, '200'),
      s(ATTR.usageId, '6f1c2a4e-0b7d-4c55-9a1e-2f3b4c5d6e7f'),
      s(ATTR.usageType, 'estimated'),
      s(ATTR.serviceType, 'llm'),
      d(ATTR.durationMs, 1234.5),
      i(ATTR.ttftMs, '321'),
      d(ATTR.costUsd, 0.0123),
    ];
    const resource = [
      s('service.name', 'checkout'),
      s('service.version', '2.1.0'),
      s('deployment.environment.name', 'prod'),
      i('process.pid', '12'),
    ];
    expect(only(logLine([usageLog(attrs)], resource))).toEqual({
      dedupKey: '6f1c2a4e-0b7d-4c55-9a1e-2f3b4c5d6e7f',
      source: 'log',
      timestampMs: 1767225600123,
      provider: 'anthropic',
      requestModel: 'claude-sonnet-4',
      responseModel: 'claude-sonnet-4-20250514',
      operation: 'chat',
      serviceType: 'llm',
      service: 'checkout',
      serviceVersion: '2.1.0',
      environment: 'prod',
      status: 'ok',
      errorType: '',
      usageType: 'estimated',
      tokens: {
        inputTokens: 5000,
        outputTokens: 800,
        cacheReadInputTokens: 3000,
        cacheCreationInputTokens: 1000,
        reasoningOutputTokens: 200,
      },
      ocrPages: 0,
      embeddingInputs: 0,
      emitterCostNanoUsd: 12_300_000,
      durationMs: 1234.5,
      ttftMs: 321,
      userId: 'u-1',
      sessionId: 'sess-1',
      feature: 'search',
      taskId: 'task-9',
      tenantId: 'acme',
      agentName: 'planner',
      executionPath: 'planner/search',
      conversationId: 'conv-3',
      sourceName: '',
    } satisfies UsageRecord);
  });

  it('keys a record without usage id by lowercase traceId:spanId, whatever the case in the file', () => {
    const r = only(logLine([usageLog(CHAT, { traceId: TRACE.toUpperCase(), spanId: SPAN.toUpperCase() })]));
    expect(r.dedupKey).toBe(`${TRACE}:${SPAN}`);
  });

  it('converts base64 ids (protobuf JSON mapping) to hex rather than losing the key', () => {
    const traceB64 = Buffer.from(TRACE, 'hex').toString('base64');
    const spanB64 = Buffer.from(SPAN, 'hex').toString('base64');
    expect(only(logLine([usageLog(CHAT, { traceId: traceB64, spanId: spanB64 })])).dedupKey).toBe(
      `${TRACE}:${SPAN}`,
    );
  });

  it('takes int64 as numbers as well as strings, and observedTimeUnixNano when timeUnixNano is absent', () => {
    const attrs = [...CHAT.slice(0, 3), i(ATTR.inputTokens, 7), i(ATTR.outputTokens, 3)];
    const r = only(
      logLine([usageLog(attrs, { timeUnixNano: undefined, observedTimeUnixNano: 1767225601000000000 })]),
    );
    expect(r.tokens.inputTokens).toBe(7);
    expect(r.tokens.outputTokens).toBe(3);
    expect(r.timestampMs).toBe(1767225601000);
  });

  it('names the service unknown_service when the resource has none', () => {
    expect(only(logLine([usageLog(CHAT)], [])).service).toBe('unknown_service');
  });

  it('marks failed calls as errors and counts them without usage', () => {
    const attrs = [...CHAT.slice(0, 3), s(ATTR.errorType, 'RateLimitError')];
    const r = only(logLine([usageLog(attrs)]));
    expect([r.status, r.errorType, r.tokens.inputTokens, r.emitterCostNanoUsd]).toEqual([
      'error',
      'RateLimitError',
      0,
      null,
    ]);
  });

  it('derives the service type from the operation unless it is declared, and counts pages and inputs', () => {
    const emb = [
      s(ATTR.operationName, 'embeddings'),
      s(ATTR.providerName, 'openai'),
      s(ATTR.requestModel, 'e'),
      i(ATTR.inputTokens, '9'),
      i(ATTR.embeddingInputs, '4'),
    ];
    const ocr = [
      s(ATTR.operationName, 'ocr'),
      s(ATTR.providerName, 'mistral_ai'),
      s(ATTR.requestModel, 'o'),
      i(ATTR.ocrPages, '12'),
    ];
    const declared = [...CHAT, s(ATTR.serviceType, 'embedding')];
    const bogus = [...CHAT, s(ATTR.serviceType, 'rocket')];
    const out = decodeOtlpJsonLine(
      logLine([usageLog(emb), usageLog(ocr), usageLog(declared), usageLog(bogus)]),
    );
    expect(out.records.map((r) => [r.serviceType, r.ocrPages, r.embeddingInputs])).toEqual([
      ['embedding', 0, 4],
      ['ocr', 12, 0],
      ['embedding', 0, 0],
      ['llm', 0, 0],
    ]);
  });

  it('decodes many records and resources per line, rejecting only the bad one', () => {
    const bad = [...CHAT.slice(0, 3), i(ATTR.inputTokens, '-5')];
    const line = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [s('service.name', 'a')] },
          scopeLogs: [{ scope: { name: '@spendline/sdk' }, logRecords: [usageLog(CHAT), usageLog(bad)] }],
        },
        {
          resource: { attributes: [s('service.name', 'b')] },
          scopeLogs: [
            {
              scope: { name: '@spendline/sdk' },
              logRecords: [usageLog(CHAT), { body: { stringValue: 'hello' } }],
            },
          ],
        },
      ],
    });
    const out = decodeOtlpJsonLine(line);
    expect(out.records.map((r) => r.service)).toEqual(['a', 'b']);
    expect(out.rejected.map((r) => r.reason)).toEqual(['negative_tokens']);
    expect(out.ignored).toBe(1);
  });

  it('counts log records of other emitters only when they carry an inference operation or usage id with usage', () => {
    const noEvent = (a: Attr[]) => usageLog(a, { eventName: undefined });
    const out = decodeOtlpJsonLine(
      logLine([
        noEvent(CHAT),
        noEvent(CHAT.slice(0, 3)),
        noEvent([s(ATTR.usageId, 'x'), ...CHAT.slice(1)]),
        noEvent([s(ATTR.operationName, 'invoke_agent'), ...CHAT.slice(1)]),
        usageLog([s(ATTR.operationName, 'invoke_workflow'), ...CHAT.slice(1)]),
        noEvent([s('gen_ai.tool.name', 'search')]),
      ]),
    );
    expect(out.records.map((r) => r.dedupKey)).toEqual([`${TRACE}:${SPAN}`, 'x']);
    expect(out.ignored).toBe(4);
  });
});

describe('decodeOtlpJsonLine: one call, several signals', () => {
  const otherEmitter = (records: object[]) =>
    JSON.stringify({ resourceLogs: [{ scopeLogs: [{ scope: { name: 'openlit' }, logRecords: records }] }] });

  it("counts another emitter's usage event only outside a sampled span (inside one, the span is the record)", () => {
    const inSampledSpan = decodeOtlpJsonLine(otherEmitter([usageLog(CHAT, { flags: 1 })]));
    expect(inSampledSpan).toEqual({ records: [], rejected: [], ignored: 1 });
    const notSampled = decodeOtlpJsonLine(otherEmitter([usageLog(CHAT, { flags: 0 })]));
    expect(notSampled.records).toHaveLength(1);
    const noSpan = decodeOtlpJsonLine(
      otherEmitter([usageLog(CHAT, { traceId: undefined, spanId: undefined })]),
    );
    expect(noSpan.records).toHaveLength(1);
  });

  it('never counts per-message events (no usage) nor metrics lines', () => {
    const perMessage = usageLog([s('event.name', 'gen_ai.choice'), s(ALIAS_ATTR.system, 'openai')], {
      eventName: undefined,
      flags: 0,
    });
    expect(decodeOtlpJsonLine(otherEmitter([perMessage]))).toEqual({ records: [], rejected: [], ignored: 1 });
    const metric = (name: string) => ({
      name,
      histogram: { dataPoints: [{ attributes: CHAT, count: '1', sum: 1500 }], aggregationTemporality: 2 },
    });
    const metrics = JSON.stringify({
      resourceMetrics: [
        {
          scopeMetrics: [
            { metrics: [metric('gen_ai.client.token.usage'), metric('gen_ai.client.operation.duration')] },
          ],
        },
      ],
    });
    expect(decodeOtlpJsonLine(metrics)).toEqual({ records: [], rejected: [], ignored: 2 });
    const plainMetrics = JSON.stringify({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'http.server.duration' }] }] }],
    });
    expect(decodeOtlpJsonLine(plainMetrics)).toEqual({ records: [], rejected: [], ignored: 1 });
  });
});

describe('decodeOtlpJsonLine: spans', () => {
  it('counts inference spans with usage, duration from the span times', () => {
    const r = only(spanLine([span(CHAT)]));
    expect([r.source, r.timestampMs, r.durationMs, r.service, r.status]).toEqual([
      'span',
      1767225600123,
      1500,
      'agent-svc',
      'ok',
    ]);
  });

  it('never counts a usage event of an agent, workflow, step or tool operation', () => {
    const usage = CHAT.slice(1);
    for (const op of ['invoke_agent', 'create_agent', 'invoke_workflow', 'execute_tool', 'agent_step'])
      expect(decodeOtlpJsonLine(logLine([usageLog([s(ATTR.operationName, op), ...usage])])), op).toEqual({
        records: [],
        rejected: [],
        ignored: 1,
      });
  });

  it('never counts agent, workflow, step, tool or chain spans', () => {
    const usage = CHAT.slice(1);
    const out = decodeOtlpJsonLine(
      spanLine([
        span([s(ATTR.operationName, 'invoke_agent'), ...usage]),
        span([s(ATTR.operationName, 'create_agent'), ...usage]),
        span([s(ATTR.operationName, 'invoke_workflow'), ...usage]),
        span([s(ATTR.operationName, 'execute_tool'), ...usage]),
        span([s(ATTR.operationName, 'agent_step')]),
        span([
          s(ALIAS_ATTR.openInferenceSpanKind, 'AGENT'),
          s(ALIAS_ATTR.openInferenceModelName, 'gpt-4o'),
          i(ALIAS_ATTR.openInferencePromptTokens, '9'),
        ]),
        span([
          s(ALIAS_ATTR.openInferenceSpanKind, 'CHAIN'),
          s(ALIAS_ATTR.openInferenceModelName, 'gpt-4o'),
          i(ALIAS_ATTR.openInferencePromptTokens, '9'),
        ]),
        span([s('http.method', 'GET')]),
      ]),
    );
    expect(out).toEqual({ records: [], rejected: [], ignored: 8 });
  });

  it('counts an inference span without usage as a request of unknown usage, never 0 exact tokens', () => {
    const r = only(spanLine([span(CHAT.slice(0, 3))]));
    expect([r.status, r.usageType, r.tokens.inputTokens, r.tokens.outputTokens]).toEqual([
      'ok',
      'unknown',
      0,
      0,
    ]);
    const failed = only(spanLine([span([...CHAT.slice(0, 3), s(ATTR.errorType, 'RateLimitError')])]));
    expect([failed.status, failed.errorType, failed.usageType]).toEqual([
      'error',
      'RateLimitError',
      'unknown',
    ]);
    // The SDK declares its usage type: a declared type stands even without counts.
    const declared = only(spanLine([span([...CHAT.slice(0, 3), s(ATTR.usageType, 'exact')])]));
    expect(declared.usageType).toBe('exact');
  });

  it('derives input from total minus output; a total alone is total_only, never exact', () => {
    const oi = only(
      spanLine([
        span([...CHAT.slice(0, 3), i(ALIAS_ATTR.openInferenceTotalTokens, 150), i(ATTR.outputTokens, 30)]),
      ]),
    );
    expect([oi.tokens.inputTokens, oi.tokens.outputTokens, oi.usageType]).toEqual([120, 30, 'exact']);
    const total = only(spanLine([span([...CHAT.slice(0, 3), i('gen_ai.usage.total_tokens', 150)])]));
    expect([total.tokens.inputTokens, total.tokens.outputTokens, total.usageType]).toEqual([
      150,
      0,
      'total_only',
    ]);
  });

  it('reads Vercel AI SDK 4-6 spans: only the inner provider calls count, with ai.usage.* details', () => {
    const vercel = (op: string, attrs: Attr[] = []) =>
      span([
        s('ai.operationId', op),
        s('ai.model.provider', 'openai.responses'),
        s('ai.model.id', 'o4-mini'),
        ...attrs,
      ]);
    const usage = [
      i('ai.usage.inputTokens', 200),
      i('ai.usage.outputTokens', 90),
      i('ai.usage.cachedInputTokens', 64),
      i('ai.usage.reasoningTokens', 50),
    ];
    const out = decodeOtlpJsonLine(
      spanLine([
        vercel('ai.generateText', usage),
        vercel('ai.generateText.doGenerate', usage),
        vercel('ai.toolCall'),
        vercel('ai.embedMany', [i('ai.usage.tokens', 16)]),
        vercel('ai.embedMany.doEmbed', [i('ai.usage.tokens', 16)]),
        vercel('ai.streamText.doStream', []),
      ]),
    );
    expect(out.rejected).toEqual([]);
    expect(out.ignored).toBe(3);
    expect(out.records.map((r) => [r.provider, r.operation, r.usageType, r.tokens])).toEqual([
      [
        'openai',
        'chat',
        'exact',
        {
          inputTokens: 200,
          outputTokens: 90,
          cacheReadInputTokens: 64,
          cacheCreationInputTokens: 0,
          reasoningOutputTokens: 50,
        },
      ],
      [
        'openai',
        'embeddings',
        'exact',
        {
          inputTokens: 16,
          outputTokens: 0,
          cacheReadInputTokens: 0,
          cacheCreationInputTokens: 0,
          reasoningOutputTokens: 0,
        },
      ],
      [
        'openai',
        'chat',
        'unknown',
        {
          inputTokens: 0,
          outputTokens: 0,
          cacheReadInputTokens: 0,
          cacheCreationInputTokens: 0,
          reasoningOutputTokens: 0,
        },
      ],
    ]);
  });

  it("ignores the AI SDK 7 embeddings operation span around the call, but not another emitter's", () => {
    const HTTP = '2222222222222222';
    const OUTER = '3333333333333333';
    const INNER = '4444444444444444';
    const embed = (spanId: string, parent: string | undefined, attrs: Attr[], extra: object = {}) =>
      span(
        [
          s(ATTR.operationName, 'embeddings'),
          s(ATTR.providerName, 'openai'),
          s(ATTR.requestModel, 'e'),
          ...attrs,
        ],
        { spanId, parentSpanId: parent, ...extra },
      );
    const aiSdk = (spans: object[]) =>
      JSON.stringify({ resourceSpans: [{ scopeSpans: [{ scope: { name: 'gen_ai' }, spans }] }] });
    // Root operation span, or one inside an HTTP server span: only the inner call counts.
    for (const parent of [undefined, HTTP]) {
      const out = decodeOtlpJsonLine(
        aiSdk([embed(OUTER, parent, []), embed(INNER, OUTER, [i(ATTR.inputTokens, 16)])]),
      );
      expect(out.records.map((r) => r.tokens.inputTokens)).toEqual([16]);
      expect(out.ignored).toBe(1);
    }
    // A failed call: both spans fail without usage; one request.
    const failed = { status: { code: 2 } };
    const out = decodeOtlpJsonLine(aiSdk([embed(INNER, OUTER, [], failed), embed(OUTER, HTTP, [], failed)]));
    expect(out.records.map((r) => [r.dedupKey.endsWith(INNER), r.status, r.usageType])).toEqual([
      [true, 'error', 'unknown'],
    ]);
    // Another emitter's embeddings span without usage is the call itself.
    expect(only(spanLine([embed(OUTER, undefined, [])])).usageType).toBe('unknown');
  });

  it('resolves OpenAI-compatible endpoints and Vercel provider ids to the provider that bills them', () => {
    const at = (attrs: Attr[]) =>
      only(spanLine([span([...CHAT, ...attrs].filter((a) => a.key !== ATTR.providerName))])).provider;
    expect(at([s(ALIAS_ATTR.system, 'openai'), s('server.address', 'my-res.openai.azure.com')])).toBe(
      'azure.ai.openai',
    );
    expect(at([s(ALIAS_ATTR.system, 'openai'), s('server.address', 'api.groq.com')])).toBe('groq');
    expect(
      at([s(ALIAS_ATTR.system, 'openai'), s('server.address', 'localhost'), i('server.port', 11434)]),
    ).toBe('ollama');
    expect(at([s(ALIAS_ATTR.system, 'openai.chat')])).toBe('openai');
    expect(at([s(ALIAS_ATTR.system, 'az.ai.inference')])).toBe('azure.ai.inference');
    expect(at([s(ALIAS_ATTR.system, 'anthropic'), s('server.address', 'api.groq.com')])).toBe('anthropic');
  });

  it('marks a span with status ERROR as failed, with error.type _OTHER unless it names one', () => {
    const out = decodeOtlpJsonLine(
      spanLine([
        span(CHAT, { status: { code: 2 } }),
        span([...CHAT, s(ATTR.errorType, '429')], { status: { code: 2 } }),
      ]),
    );
    expect(out.records.map((r) => [r.status, r.errorType])).toEqual([
      ['error', '_OTHER'],
      ['error', '429'],
    ]);
  });

  it('prefers the explicit spendline.duration.ms over the span times', () => {
    expect(only(spanLine([span([...CHAT, i(ATTR.durationMs, '42')])])).durationMs).toBe(42);
  });
});

describe('decodeOtlpJsonLine: aliases', () => {
  it('reads older semconv names: gen_ai.system, prompt/completion tokens, cache_write', () => {
    const r = only(
      logLine([
        usageLog([
          s(ATTR.operationName, 'chat'),
          s(ALIAS_ATTR.system, 'anthropic'),
          s(ATTR.responseModel, 'claude-3-haiku'),
          i(ALIAS_ATTR.promptTokens, '100'),
          i(ALIAS_ATTR.completionTokens, '20'),
          i(ALIAS_ATTR.cacheWriteInputTokens, '40'),
        ]),
      ]),
    );
    expect([r.provider, r.requestModel, r.responseModel]).toEqual(['anthropic', '', 'claude-3-haiku']);
    expect(r.tokens).toEqual({
      inputTokens: 100,
      outputTokens: 20,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 40,
      reasoningOutputTokens: 0,
    });
  });

  it('reads OpenInference LLM and EMBEDDING spans (prompt tokens include cache details)', () => {
    const oi = [
      s(ALIAS_ATTR.openInferenceSpanKind, 'LLM'),
      s(ALIAS_ATTR.openInferenceModelName, 'gpt-4o-mini'),
      s(ALIAS_ATTR.openInferenceProvider, 'openai'),
      s(ALIAS_ATTR.openInferenceSystem, 'ignored-when-provider-set'),
      i(ALIAS_ATTR.openInferencePromptTokens, '900'),
      i(ALIAS_ATTR.openInferenceCompletionTokens, '90'),
      i(ALIAS_ATTR.openInferenceTotalTokens, '990'),
      i(ALIAS_ATTR.openInferenceCacheReadTokens, '500'),
      i(ALIAS_ATTR.openInferenceCacheWriteTokens, '100'),
      i(ALIAS_ATTR.openInferenceReasoningTokens, '30'),
    ];
    const emb = [
      s(ALIAS_ATTR.openInferenceSpanKind, 'EMBEDDING'),
      s(ALIAS_ATTR.openInferenceModelName, 'text-embedding-3-small'),
      s(ALIAS_ATTR.openInferenceSystem, 'openai'),
      i(ALIAS_ATTR.openInferencePromptTokens, '64'),
    ];
    const out = decodeOtlpJsonLine(spanLine([span(oi), span(emb, { spanId: '00f067aa0ba902b7' })]));
    expect(out.rejected).toEqual([]);
    const [llm, embedding] = out.records;
    expect([llm?.operation, llm?.provider, llm?.requestModel, llm?.serviceType]).toEqual([
      'chat',
      'openai',
      'gpt-4o-mini',
      'llm',
    ]);
    expect(llm?.tokens).toEqual({
      inputTokens: 900,
      outputTokens: 90,
      cacheReadInputTokens: 500,
      cacheCreationInputTokens: 100,
      reasoningOutputTokens: 30,
    });
    expect([
      embedding?.operation,
      embedding?.provider,
      embedding?.serviceType,
      embedding?.tokens.inputTokens,
    ]).toEqual(['embeddings', 'openai', 'embedding', 64]);
  });

  it('reads the OpenLIT cost, but the contract cost wins whatever the order', () => {
    expect(only(logLine([usageLog([...CHAT, d(ALIAS_ATTR.openLitCost, 0.5)])])).emitterCostNanoUsd).toBe(
      500_000_000,
    );
    const both = [d(ATTR.costUsd, 0.25), ...CHAT, d(ALIAS_ATTR.openLitCost, 0.5)];
    expect(only(logLine([usageLog(both)])).emitterCostNanoUsd).toBe(250_000_000);
    // OpenLIT writes 0 when it has no price: an unknown price, never $0.
    expect(only(logLine([usageLog([...CHAT, d(ALIAS_ATTR.openLitCost, 0)])])).emitterCostNanoUsd).toBeNull();
    // Logfire's operation.cost (genai-prices) is an emitter cost too.
    expect(only(logLine([usageLog([...CHAT, d('operation.cost', 0.125)])])).emitterCostNanoUsd).toBe(
      125_000_000,
    );
  });

  it('prefers the contract names over every alias, whatever the attribute order', () => {
    const r = only(
      logLine([
        usageLog([
          i(ALIAS_ATTR.promptTokens, '1'),
          i(ALIAS_ATTR.openInferencePromptTokens, '2'),
          s(ALIAS_ATTR.system, 'old'),
          s(ALIAS_ATTR.openInferenceModelName, 'oi-model'),
          ...CHAT,
          i(ALIAS_ATTR.completionTokens, '3'),
        ]),
      ]),
    );
    expect([r.tokens.inputTokens, r.tokens.outputTokens, r.provider, r.requestModel]).toEqual([
      1200,
      300,
      'openai',
      'gpt-4o',
    ]);
  });
});

/** A span line under one instrumentation scope (its name decides some emitters' spans). */
function scopedSpanLine(scope: string, spans: object[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [s('service.name', 'py-svc')] },
        scopeSpans: [{ scope: { name: scope }, spans }],
      },
    ],
  });
}

describe('decodeOtlpJsonLine: older and other-language emitters', () => {
  // traceloop/openllmetry e012bb1 (0.54.0): shared/chat_wrappers.py, embeddings_wrappers.py,
  // completion_wrappers.py start their spans with `llm.request.type` only; semconv_ai LLMRequestTypeValues.
  const OPENLLMETRY = 'opentelemetry.instrumentation.openai.v1';
  const at = (n: number) => ({ spanId: `00000000000000${String(n).padStart(2, '0')}` });

  it('counts OpenLLMetry <= 0.54 spans by llm.request.type, with its llm.usage.* total and reasoning names', () => {
    const out = decodeOtlpJsonLine(
      scopedSpanLine(OPENLLMETRY, [
        span(
          [
            s('llm.request.type', 'chat'),
            s(ALIAS_ATTR.system, 'openai'),
            s(ATTR.requestModel, 'o4-mini'),
            i('llm.usage.total_tokens', '290'),
            i(ATTR.outputTokens, '90'),
            i(ATTR.inputTokens, '200'),
            i('gen_ai.usage.cache_read_input_tokens', '64'),
            i('llm.usage.reasoning_tokens', '50'),
          ],
          { ...at(1), name: 'openai.chat' },
        ),
        // Older still (gen_ai.usage.prompt_tokens), a completion and an embeddings call.
        span(
          [
            s('llm.request.type', 'completion'),
            s(ALIAS_ATTR.system, 'OpenAI'),
            s(ATTR.requestModel, 'gpt-3.5-turbo-instruct'),
            i(ALIAS_ATTR.promptTokens, '10'),
            i(ALIAS_ATTR.completionTokens, '5'),
            i('llm.usage.total_tokens', '15'),
          ],
          { ...at(2), name: 'openai.completion' },
        ),
        span(
          [
            s('llm.request.type', 'embedding'),
            s(ALIAS_ATTR.system, 'openai'),
            s(ATTR.requestModel, 'text-embedding-3-small'),
            i('llm.usage.total_tokens', '16'),
            i(ATTR.inputTokens, '16'),
          ],
          { ...at(3), name: 'openai.embeddings' },
        ),
        // A failed call: ERROR_TYPE and status ERROR, no usage.
        span(
          [
            s('llm.request.type', 'chat'),
            s(ALIAS_ATTR.system, 'openai'),
            s(ATTR.requestModel, 'gpt-4o-mini'),
            s(ATTR.errorType, 'RateLimitError'),
          ],
          { ...at(4), name: 'openai.chat', status: { code: 2 } },
        ),
        // Anthropic, 2024-10 to 2026-03 (anthropic/__init__.py at 144c82a): prompt tokens include the cache
        // reads and writes, each also under its pre-semconv name; `completion` request type.
        span(
          [
            s(ALIAS_ATTR.system, 'Anthropic'),
            s('llm.request.type', 'completion'),
            s(ATTR.requestModel, 'claude-3-5-haiku-20241022'),
            i(ALIAS_ATTR.promptTokens, '2000'),
            i(ALIAS_ATTR.completionTokens, '50'),
            i('gen_ai.usage.cache_read_input_tokens', '1500'),
            i('gen_ai.usage.cache_creation_input_tokens', '300'),
          ],
          { ...at(8), name: 'anthropic.chat' },
        ),
        // Not token calls: a rerank, an unknown request type, a workflow span without any.
        span(
          [
            s('llm.request.type', 'rerank'),
            s(ALIAS_ATTR.system, 'cohere'),
            s(ATTR.requestModel, 'rerank-v3.5'),
          ],
          at(5),
        ),
        span(
          [s('llm.request.type', 'unknown'), s(ALIAS_ATTR.system, 'openai'), s(ATTR.requestModel, 'x')],
          at(6),
        ),
        span([s('traceloop.span.kind', 'workflow'), i('llm.usage.total_tokens', '320')], {
          ...at(7),
          name: 'my_workflow.workflow',
        }),
      ]),
    );
    expect(out.rejected).toEqual([]);
    expect(out.ignored).toBe(3);
    expect(
      out.records.map((r) => [
        r.operation,
        r.provider,
        r.requestModel,
        r.status,
        r.errorType,
        r.usageType,
        r.tokens,
      ]),
    ).toEqual([
      ['chat', 'openai', 'o4-mini', 'ok', '', 'exact', tokens(200, 90, 64, 0, 50)],
      ['text_completion', 'openai', 'gpt-3.5-turbo-instruct', 'ok', '', 'exact', tokens(10, 5, 0, 0, 0)],
      ['embeddings', 'openai', 'text-embedding-3-small', 'ok', '', 'exact', tokens(16, 0, 0, 0, 0)],
      ['chat', 'openai', 'gpt-4o-mini', 'error', 'RateLimitError', 'unknown', tokens(0, 0, 0, 0, 0)],
      [
        'text_completion',
        'anthropic',
        'claude-3-5-haiku-20241022',
        'ok',
        '',
        'exact',
        tokens(2000, 50, 1500, 300, 0),
      ],
    ]);
    expect(out.records[2]?.serviceType).toBe('embedding');
  });

  it("counts OpenLLMetry <= 0.54's Responses API span (no kind at all) only under its OpenAI scope", () => {
    const responses = span(
      [
        s(ALIAS_ATTR.system, 'openai'),
        s(ATTR.requestModel, 'o4-mini'),
        i(ATTR.inputTokens, '200'),
        i(ATTR.outputTokens, '90'),
      ],
      { name: 'openai.response' },
    );
    expect(only(scopedSpanLine(OPENLLMETRY, [responses])).operation).toBe('chat');
    const other = decodeOtlpJsonLine(scopedSpanLine('some.framework', [responses]));
    expect([other.records.length, other.ignored]).toEqual([0, 1]);
  });

  // open-telemetry/opentelemetry-js-contrib instrumentation-aws-sdk services/bedrock-runtime.ts:
  // `requestPreSpanHookInvokeModel` sets `gen_ai.system` and the model, no operation; the span keeps the
  // default name `BedrockRuntime.InvokeModel` (…WithResponseStream).
  it("counts the aws-sdk instrumentation's InvokeModel spans by model: embeddings, chat, never image models", () => {
    const invoke = (model: string, name = 'BedrockRuntime.InvokeModel') =>
      span(
        [
          s(ALIAS_ATTR.system, 'aws.bedrock'),
          s('rpc.method', name.split('.')[1] ?? ''),
          s(ATTR.requestModel, model),
          i(ATTR.inputTokens, '16'),
        ],
        { name },
      );
    const AWS = '@opentelemetry/instrumentation-aws-sdk';
    const titan = only(scopedSpanLine(AWS, [invoke('amazon.titan-embed-text-v2:0')]));
    expect([titan.operation, titan.provider, titan.tokens.inputTokens]).toEqual([
      'embeddings',
      'aws.bedrock',
      16,
    ]);
    expect(only(scopedSpanLine(AWS, [invoke('amazon.titan-embed-image-v1')])).operation).toBe('embeddings');
    const profile =
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0';
    expect(
      only(scopedSpanLine(AWS, [invoke(profile, 'BedrockRuntime.InvokeModelWithResponseStream')])).operation,
    ).toBe('chat');
    for (const media of [
      'amazon.titan-image-generator-v2:0',
      'amazon.nova-canvas-v1:0',
      'us.stability.sd3-5-large-v1:0',
    ]) {
      const out = decodeOtlpJsonLine(scopedSpanLine(AWS, [invoke(media)]));
      expect([out.records.length, out.ignored], media).toEqual([0, 1]);
    }
    // Other commands of the client, and the same span name under another tracer, are not calls.
    for (const line of [
      scopedSpanLine(AWS, [invoke('amazon.titan-embed-text-v2:0', 'BedrockRuntime.ApplyGuardrail')]),
      scopedSpanLine('some.framework', [invoke('amazon.titan-embed-text-v2:0')]),
    ]) {
      const out = decodeOtlpJsonLine(line);
      expect([out.records.length, out.ignored]).toEqual([0, 1]);
    }
  });

  // spring-projects/spring-ai: spring-ai-commons AiOperationType.java, AiProvider.java,
  // AiObservationAttributes.java; spring-ai-model DefaultChatModelObservationConvention.java and
  // DefaultEmbeddingModelObservationConvention.java (Micrometer key-values: every value a string,
  // `none` for an unknown model).
  it("reads Spring AI observations: string token counts, its 'embedding' operation and provider names, 'none' models, zeros for no usage", () => {
    const springSpan = (attrs: Attr[], n: number, extra: Record<string, unknown> = {}) =>
      span(attrs, { ...at(n), ...extra });
    const out = decodeOtlpJsonLine(
      scopedSpanLine('org.springframework.boot', [
        springSpan(
          [
            s(ATTR.operationName, 'chat'),
            s(ALIAS_ATTR.system, 'azure-openai'),
            s(ATTR.requestModel, 'gpt-4o'),
            s(ATTR.responseModel, 'gpt-4o-2024-08-06'),
            s(ATTR.inputTokens, '120'),
            s(ATTR.outputTokens, '30'),
            s(ALIAS_ATTR.totalTokens, '150'),
          ],
          1,
        ),
        springSpan(
          [
            s(ATTR.operationName, 'embedding'),
            s(ALIAS_ATTR.system, 'openai'),
            s(ATTR.requestModel, 'text-embedding-3-small'),
            s(ATTR.responseModel, 'text-embedding-3-small'),
            s(ATTR.inputTokens, '16'),
            s(ALIAS_ATTR.totalTokens, '16'),
          ],
          2,
        ),
        springSpan(
          [
            s(ATTR.operationName, 'chat'),
            s(ALIAS_ATTR.system, 'bedrock_converse'),
            s(ATTR.requestModel, 'anthropic.claude-3-haiku'),
            s(ATTR.responseModel, 'none'),
            s(ATTR.errorType, 'org.springframework.ai.retry.NonTransientAiException'),
          ],
          3,
          { status: { code: 2 } },
        ),
        // A stream without usage: Spring AI writes its EmptyUsage as zeros. No call reads no input: unknown.
        springSpan(
          [
            s(ATTR.operationName, 'chat'),
            s(ALIAS_ATTR.system, 'openai'),
            s(ATTR.requestModel, 'gpt-4o-mini'),
            s(ATTR.inputTokens, '0'),
            s(ATTR.outputTokens, '0'),
            s(ALIAS_ATTR.totalTokens, '0'),
          ],
          5,
        ),
        // The ChatClient's own observation wraps the model call above it: never a call.
        springSpan(
          [
            s(ATTR.operationName, 'framework'),
            s(ALIAS_ATTR.system, 'spring_ai'),
            s(ATTR.requestModel, 'none'),
            s(ATTR.inputTokens, '120'),
          ],
          4,
        ),
      ]),
    );
    expect(out.rejected).toEqual([]);
    expect(out.ignored).toBe(1);
    expect(
      out.records.map((r) => [
        r.operation,
        r.serviceType,
        r.provider,
        r.requestModel,
        r.responseModel,
        r.status,
        r.usageType,
      ]),
    ).toEqual([
      ['chat', 'llm', 'azure.ai.openai', 'gpt-4o', 'gpt-4o-2024-08-06', 'ok', 'exact'],
      [
        'embeddings',
        'embedding',
        'openai',
        'text-embedding-3-small',
        'text-embedding-3-small',
        'ok',
        'exact',
      ],
      ['chat', 'llm', 'aws.bedrock', 'anthropic.claude-3-haiku', '', 'error', 'unknown'],
      ['chat', 'llm', 'openai', 'gpt-4o-mini', '', 'ok', 'unknown'],
    ]);
    expect(out.records.map((r) => [r.tokens.inputTokens, r.tokens.outputTokens])).toEqual([
      [120, 30],
      [16, 0],
      [0, 0],
      [0, 0],
    ]);
  });

  // microsoft/semantic-kernel dotnet/src/InternalUtilities/src/Diagnostics/ModelDiagnostics.cs:
  // `chat.completions` / `text.completions`, gen_ai.system, server.address = the endpoint URL without query.
  it('reads Semantic Kernel (.NET) spans: chat.completions and text.completions; its agent span is not a call', () => {
    const out = decodeOtlpJsonLine(
      scopedSpanLine('Microsoft.SemanticKernel.Diagnostics', [
        span(
          [
            s(ATTR.operationName, 'chat.completions'),
            s(ALIAS_ATTR.system, 'openai'),
            s(ATTR.requestModel, 'gpt-4o'),
            s(
              ALIAS_ATTR.serverAddress,
              'https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions',
            ),
            i(ALIAS_ATTR.serverPort, 443),
            i(ATTR.inputTokens, 120),
            i(ATTR.outputTokens, 30),
          ],
          at(1),
        ),
        span(
          [
            s(ATTR.operationName, 'text.completions'),
            s(ALIAS_ATTR.system, 'huggingface'),
            s(ATTR.requestModel, 'gpt2'),
            i(ATTR.inputTokens, 8),
            i(ATTR.outputTokens, 4),
          ],
          at(2),
        ),
        span([s(ATTR.operationName, 'invoke_agent'), s(ATTR.agentName, 'helper')], at(3)),
      ]),
    );
    expect(out.rejected).toEqual([]);
    expect(out.ignored).toBe(1);
    expect(out.records.map((r) => [r.operation, r.provider, r.requestModel])).toEqual([
      ['chat', 'azure.ai.openai', 'gpt-4o'],
      ['text_completion', 'huggingface', 'gpt2'],
    ]);
  });

  // dotnet/extensions src/Libraries/Microsoft.Extensions.AI: OpenTelemetryConsts.cs (`chat`, `embeddings`,
  // non-standard `orchestrate_tools` for FunctionInvokingChatClient's loop, `invoke_agent`, `execute_tool`;
  // gen_ai.usage.cache_read.input_tokens), OpenTelemetryChatClient.cs (provider name, server.address host).
  it('reads Microsoft.Extensions.AI (.NET) spans; its orchestrate_tools loop span and tool spans are not calls', () => {
    const out = decodeOtlpJsonLine(
      scopedSpanLine('Experimental.Microsoft.Extensions.AI', [
        span(
          [
            s(ATTR.operationName, 'chat'),
            s(ATTR.providerName, 'openai'),
            s(ATTR.requestModel, 'gpt-4o-mini'),
            s(ALIAS_ATTR.serverAddress, 'contoso.openai.azure.com'),
            i(ALIAS_ATTR.serverPort, 443),
            i(ATTR.inputTokens, 120),
            i(ATTR.outputTokens, 30),
            i(ATTR.cacheReadInputTokens, 40),
          ],
          { ...at(1), parentSpanId: '0000000000000002' },
        ),
        span(
          [s(ATTR.operationName, 'orchestrate_tools'), i(ATTR.inputTokens, 240), i(ATTR.outputTokens, 60)],
          at(2),
        ),
        span([s(ATTR.operationName, 'execute_tool'), s('gen_ai.tool.name', 'search')], at(3)),
      ]),
    );
    expect(out.rejected).toEqual([]);
    expect(out.ignored).toBe(2);
    expect(out.records.map((r) => [r.operation, r.provider, r.tokens])).toEqual([
      ['chat', 'azure.ai.openai', tokens(120, 30, 40, 0, 0)],
    ]);
  });

  // open-telemetry/opentelemetry-python-contrib 466ae4c: instrumentation-genai/opentelemetry-instrumentation-
  // google-genai generate_content.py (`generate_content`, counts start at 0 and are set in `finally`, output
  // = candidates + thoughts, `gen_ai.usage.reasoning.output_tokens`); -vertexai utils.py (latest semconv:
  // no gen_ai.system, only server.address).
  it('reads the Python google-genai and vertexai instrumentations; a failed call reported as zeros has unknown usage', () => {
    const out = decodeOtlpJsonLine(
      scopedSpanLine('opentelemetry.instrumentation.google_genai', [
        span(
          [
            s(ATTR.operationName, 'generate_content'),
            s(ATTR.requestModel, 'gemini-2.5-flash'),
            s(ALIAS_ATTR.system, 'gemini'),
            i(ATTR.inputTokens, 1000),
            i(ATTR.outputTokens, 350),
            i(ATTR.cacheReadInputTokens, 600),
            i(ATTR.reasoningOutputTokens, 250),
          ],
          at(1),
        ),
        span(
          [
            s(ATTR.operationName, 'generate_content'),
            s(ATTR.requestModel, 'gemini-2.5-flash'),
            s(ALIAS_ATTR.system, 'gemini'),
            i(ATTR.inputTokens, 0),
            i(ATTR.outputTokens, 0),
            s(ATTR.errorType, 'ClientError'),
          ],
          { ...at(2), status: { code: 2 } },
        ),
        span(
          [
            s(ATTR.operationName, 'chat'),
            s(ATTR.requestModel, 'gemini-2.0-flash'),
            s(ALIAS_ATTR.serverAddress, 'us-central1-aiplatform.googleapis.com'),
            i(ALIAS_ATTR.serverPort, 443),
            i(ATTR.inputTokens, 10),
            i(ATTR.outputTokens, 5),
          ],
          at(3),
        ),
      ]),
    );
    expect(out.rejected).toEqual([]);
    expect(out.records.map((r) => [r.operation, r.provider, r.status, r.usageType, r.tokens])).toEqual([
      ['generate_content', 'gcp.gemini', 'ok', 'exact', tokens(1000, 350, 600, 0, 250)],
      ['generate_content', 'gcp.gemini', 'error', 'unknown', tokens(0, 0, 0, 0, 0)],
      ['chat', 'gcp.vertex_ai', 'ok', 'exact', tokens(10, 5, 0, 0, 0)],
    ]);
  });

  // Arize-ai/openinference: instrumentors do not suppress one another (openinference#1154: LlamaIndex and
  // OpenAI instrumentors both on count a call twice); phoenix.otel register(auto_instrument=True) enables all.
  it("counts an OpenInference framework LLM span around the OpenAI instrumentor's span of the same call once: the inner one", () => {
    const oiLlm = (model: string, prompt: number, completion: number) => [
      s(ALIAS_ATTR.openInferenceSpanKind, 'LLM'),
      s(ALIAS_ATTR.openInferenceProvider, 'openai'),
      s(ALIAS_ATTR.openInferenceModelName, model),
      i(ALIAS_ATTR.openInferencePromptTokens, prompt),
      i(ALIAS_ATTR.openInferenceCompletionTokens, completion),
    ];
    const langchain = '00000000000000a1';
    const openaiSpan = '00000000000000b2';
    const line = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [s('service.name', 'rag')] },
          scopeSpans: [
            {
              scope: { name: 'openinference.instrumentation.langchain' },
              spans: [
                span(oiLlm('gpt-4o-mini', 120, 30), { spanId: langchain, name: 'ChatOpenAI' }),
                // A LangChain LLM span whose only child is an HTTP client span: the call itself.
                span(oiLlm('gpt-4o-mini', 50, 5), { spanId: '00000000000000c3', name: 'ChatOpenAI' }),
              ],
            },
            {
              scope: { name: 'openinference.instrumentation.openai' },
              spans: [
                span([...oiLlm('gpt-4o-mini', 120, 30), i(ALIAS_ATTR.openInferenceCacheReadTokens, 40)], {
                  spanId: openaiSpan,
                  parentSpanId: langchain,
                  name: 'ChatCompletion',
                }),
              ],
            },
            {
              scope: { name: 'opentelemetry.instrumentation.httpx' },
              spans: [
                span(
                  [
                    s('http.request.method', 'POST'),
                    s('url.full', 'https://api.openai.com/v1/chat/completions'),
                  ],
                  {
                    spanId: '00000000000000d4',
                    parentSpanId: '00000000000000c3',
                    name: 'POST',
                  },
                ),
              ],
            },
          ],
        },
      ],
    });
    const out = decodeOtlpJsonLine(line);
    expect(out.rejected).toEqual([]);
    expect(out.ignored).toBe(2);
    expect(
      out.records.map((r) => [r.dedupKey.slice(-16), r.tokens.inputTokens, r.tokens.cacheReadInputTokens]),
    ).toEqual([
      ['00000000000000c3', 50, 0],
      [openaiSpan, 120, 40],
    ]);
  });

  // openlit/openlit ad20b7b: sdk/python/src/openlit/instrumentation/anthropic/utils.py and
  // sdk/typescript/src/instrumentation/anthropic/wrapper.ts set Anthropic's own input_tokens (without the
  // cache) as gen_ai.usage.input_tokens, the cache counts beside it; its spans carry telemetry.sdk.name.
  it("adds the cache back into OpenLIT's Anthropic input count (never inconsistent_tokens); not other emitters'", () => {
    const attrs = (sdk: string) => [
      s(ATTR.operationName, 'chat'),
      s(ATTR.providerName, 'anthropic'),
      s(ATTR.requestModel, 'claude-3-5-haiku-20241022'),
      ...(sdk === '' ? [] : [s('telemetry.sdk.name', sdk)]),
      i(ATTR.inputTokens, 200),
      i(ATTR.outputTokens, 50),
      i(ATTR.cacheCreationInputTokens, 300),
      i(ATTR.cacheReadInputTokens, 100),
    ];
    expect(
      only(scopedSpanLine('@openlit/instrumentation-anthropic', [span(attrs('openlit'))])).tokens,
    ).toEqual(tokens(600, 50, 100, 300, 0));
    // From another emitter the input includes the cache (semconv): these counts are inconsistent.
    expect(rejection(scopedSpanLine('other', [span(attrs(''))]))).toBe('inconsistent_tokens');
  });

  // @ai-sdk/amazon-bedrock 3.0.137 dist (AI SDK 5): usage.inputTokens = Bedrock's inputTokens,
  // cachedInputTokens = cacheReadInputTokens, providerMetadata.bedrock.usage.cacheWriteInputTokens;
  // 4.0.186 (AI SDK 6) convertBedrockUsage: total = inputTokens + cacheRead + cacheWrite, with details.
  it('adds the cache back into the Vercel AI SDK 4-5 Bedrock text calls, not into AI SDK 6 ones', () => {
    const bedrock = (operationId: string, extra: Attr[]) =>
      span([
        s(ALIAS_ATTR.vercelOperationId, operationId),
        s(ALIAS_ATTR.vercelModelProvider, 'amazon-bedrock'),
        s(ALIAS_ATTR.vercelModelId, 'anthropic.claude-3-5-haiku-20241022-v1:0'),
        s(
          'ai.response.providerMetadata',
          '{"bedrock":{"usage":{"cacheWriteInputTokens":300},"stopSequence":null}}',
        ),
        i(ATTR.outputTokens, 50),
        ...extra,
      ]);
    const stream5 = bedrock('ai.streamText.doStream', [
      i(ATTR.inputTokens, 200),
      i('ai.usage.inputTokens', 200),
      i('ai.usage.cachedInputTokens', 1500),
    ]);
    expect(only(spanLine([stream5])).tokens).toEqual(tokens(2000, 50, 1500, 300, 0));
    // generateText's doGenerate span (AI SDK 4-5): no cache read anywhere, the write from the metadata.
    const text5 = bedrock('ai.generateText.doGenerate', [
      i(ATTR.inputTokens, 200),
      i('ai.usage.promptTokens', 200),
    ]);
    expect(only(spanLine([text5])).tokens).toEqual(tokens(500, 50, 0, 300, 0));
    const text6 = bedrock('ai.generateText.doGenerate', [
      i(ATTR.inputTokens, 2000),
      i('ai.usage.inputTokens', 2000),
      i('ai.usage.inputTokenDetails.cacheReadTokens', 1500),
      i('ai.usage.inputTokenDetails.cacheWriteTokens', 300),
    ]);
    expect(only(spanLine([text6])).tokens).toEqual(tokens(2000, 50, 1500, 300, 0));
  });

  it('reads token counts as intValue string or number, doubleValue with a zero fraction, numeric stringValue', () => {
    const line = spanLine([span(CHAT)]).replace(
      '{"key":"gen_ai.usage.input_tokens","value":{"intValue":"1200"}},{"key":"gen_ai.usage.output_tokens","value":{"intValue":"300"}}',
      '{"key":"gen_ai.usage.input_tokens","value":{"doubleValue":1200.0}},{"key":"gen_ai.usage.output_tokens","value":{"stringValue":"300"}},{"key":"gen_ai.usage.cache_read.input_tokens","value":{"intValue":100}},{"key":"gen_ai.usage.cache_creation.input_tokens","value":{"doubleValue":"50"}}',
    );
    expect(line).toContain('1200.0');
    expect(only(line).tokens).toEqual(tokens(1200, 300, 100, 50, 0));
  });
});

describe('decodeOtlpJsonLine: rejections by reason', () => {
  const withTokens = (value: Value) =>
    logLine([usageLog([...CHAT.slice(0, 3), { key: ATTR.inputTokens, value }])]);

  it('bad_json and not_otlp', () => {
    expect(rejection('{"resourceLogs":[{"gen_ai.')).toBe('bad_json');
    expect(rejection('[1,2]')).toBe('not_otlp');
    expect(rejection('{"hello":"gen_ai."}')).toBe('not_otlp');
    expect(rejection('{"resourceLogs":{"gen_ai.x":1}}')).toBe('not_otlp');
    expect(rejection('"gen_ai."')).toBe('not_otlp');
  });

  it('bad_type: non-numeric token values, lists where scalars belong, bad usage type or cost', () => {
    expect(rejection(withTokens({ stringValue: 'many' }))).toBe('bad_type');
    expect(rejection(withTokens({ boolValue: true }))).toBe('bad_type');
    expect(rejection(withTokens({ intValue: '12abc' }))).toBe('bad_type');
    expect(rejection(withTokens({ arrayValue: { values: [] } }))).toBe('bad_type');
    expect(
      rejection(
        logLine([
          usageLog([...CHAT.slice(1), { key: ATTR.operationName, value: { kvlistValue: { values: [] } } }]),
        ]),
      ),
    ).toBe('bad_type');
    expect(rejection(logLine([usageLog([...CHAT, s(ATTR.usageType, 'guessed')])]))).toBe('bad_type');
    expect(rejection(logLine([usageLog([...CHAT, s(ATTR.costUsd, 'cheap')])]))).toBe('bad_type');
    expect(rejection(logLine([usageLog({ gen_ai: 1 } as unknown as Attr[])]))).toBe('bad_type');
  });

  it('accepts numeric strings from lax emitters as token counts', () => {
    expect(only(withTokens({ stringValue: '1500' })).tokens.inputTokens).toBe(1500);
  });

  it('negative_tokens, fractional_tokens, absurd_tokens (the bound itself is accepted)', () => {
    expect(rejection(withTokens({ intValue: '-1' }))).toBe('negative_tokens');
    expect(rejection(withTokens({ doubleValue: 12.5 }))).toBe('fractional_tokens');
    expect(rejection(withTokens({ intValue: String(MAX_TOKENS_PER_RECORD + 1) }))).toBe('absurd_tokens');
    expect(rejection(withTokens({ intValue: '9223372036854775807' }))).toBe('absurd_tokens');
    expect(only(withTokens({ intValue: String(MAX_TOKENS_PER_RECORD) })).tokens.inputTokens).toBe(
      MAX_TOKENS_PER_RECORD,
    );
  });

  it('inconsistent_tokens: cache beyond input, reasoning beyond output', () => {
    expect(
      rejection(
        logLine([
          usageLog([...CHAT, i(ATTR.cacheReadInputTokens, '1000'), i(ATTR.cacheCreationInputTokens, '201')]),
        ]),
      ),
    ).toBe('inconsistent_tokens');
    expect(rejection(logLine([usageLog([...CHAT, i(ATTR.reasoningOutputTokens, '301')])]))).toBe(
      'inconsistent_tokens',
    );
  });

  it('missing_model and missing_provider', () => {
    expect(rejection(logLine([usageLog(CHAT.filter((a) => a.key !== ATTR.requestModel))]))).toBe(
      'missing_model',
    );
    expect(rejection(logLine([usageLog(CHAT.filter((a) => a.key !== ATTR.providerName))]))).toBe(
      'missing_provider',
    );
  });

  it('bad_timestamp: no time at all, or a time that is not an integer', () => {
    expect(
      rejection(logLine([usageLog(CHAT, { timeUnixNano: undefined, observedTimeUnixNano: undefined })])),
    ).toBe('bad_timestamp');
    expect(rejection(logLine([usageLog(CHAT, { timeUnixNano: 'yesterday' })]))).toBe('bad_timestamp');
    expect(rejection(spanLine([span(CHAT, { endTimeUnixNano: '0' })]))).toBe('bad_timestamp');
  });
});
