import { context, type Span, TraceFlags, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { ATTR, SDK_SCOPE_NAME, SDK_TRACESTATE } from '../src/contract.js';
import { instrumentOpenAI, type LLMUsageInput, recordLLMUsage } from '../src/index.js';
import { activeRuntime } from '../src/telemetry/runtime.js';
import { type FakeProvider, startFakeProvider } from '../src/testing/index.js';
import { comparableExport, MANUAL_CALLS, pipelineFixtures } from './support/directPath.js';
import { type CapturedSpan, capturedLogs, capturedSpans } from './support/otlpReceiver.js';

// Calls' spans skip the tracer into spendline's own span queue where that is safe
// (src/telemetry/directSpans.ts). These tests hold the exported OTLP of that path to the tracer's.

const { cleanups, receiver, start } = pipelineFixtures();

async function fakeProvider(): Promise<FakeProvider> {
  const f = await startFakeProvider();
  cleanups.push(() => f.close());
  return f;
}

/** Spans queued directly by the running telemetry (undefined: the path is off). */
function directCount(): number | undefined {
  return activeRuntime()?.directSpans?.emitted;
}

/** The default sampler named: the tracer samples as before, but every span goes through it. */
const VIA_TRACER = { OTEL_TRACES_SAMPLER: 'parentbased_always_on' };

const CALLS: LLMUsageInput[] = [
  ...MANUAL_CALLS,
  // A backfill: started long before this process.
  {
    provider: 'openai',
    model: 'gpt-4o',
    inputTokens: 5,
    outputTokens: 2,
    startTimeMs: Date.UTC(2024, 5, 1, 12),
    durationMs: 5,
  },
];

type Json = Record<string, unknown>;

/** What differs between two runs of the same calls: ids, times, durations, usage ids, the host. */
const VARYING = new Set<string>([ATTR.usageId, 'host.name', ATTR.durationMs, ATTR.ttftMs]);
const comparable = (requests: unknown[]) => comparableExport(requests, VARYING);

interface Run {
  spans: unknown[];
  logs: unknown[];
  direct: number | undefined;
  app: { traceId: string; spanId: string };
  unsampledTraceId: string;
}

/**
 * One service's calls: manual records (one an error, one a backfill), records inside an application
 * span, inside an unsampled remote parent and with tracing suppressed, and instrumented `openai`
 * calls (plain and streamed) whose `fetch` starts a span as an HTTP client instrumentation would.
 */
async function scenario(env: Record<string, string>, protocol: string): Promise<Run> {
  const r = await receiver();
  const fake = await fakeProvider();
  const t = start(r, { OTEL_EXPORTER_OTLP_PROTOCOL: protocol, ...env });
  const httpTracer = trace.getTracer('http-client');
  const openai = instrumentOpenAI(
    new OpenAI({
      apiKey: 'sk-test',
      baseURL: fake.openaiBaseURL,
      maxRetries: 0,
      fetch: async (url, init) => {
        const span = httpTracer.startSpan('POST', { kind: 2 });
        try {
          return await fetch(url, init);
        } finally {
          span.end();
        }
      },
    }),
  );
  for (const call of CALLS) expect(recordLLMUsage(call).ok).toBe(true);
  const app = await trace.getTracer('app').startActiveSpan('handle request', async (s: Span) => {
    expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    s.end();
    return s.spanContext();
  });
  const unsampledTraceId = '0af7651916cd43dd8448eb211c80319c';
  const unsampled = trace.setSpanContext(context.active(), {
    traceId: unsampledTraceId,
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.NONE,
    isRemote: true,
  });
  context.with(unsampled, () => expect(recordLLMUsage(CALLS[0] as LLMUsageInput).ok).toBe(true));
  context.with(suppressTracing(context.active()), () =>
    expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true),
  );
  const stream = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
  });
  for await (const _chunk of stream);
  const direct = directCount();
  await t.shutdown();
  return { spans: r.bodies.traces, logs: r.bodies.logs, direct, app, unsampledTraceId };
}

function ours(requests: unknown[]): CapturedSpan[] {
  return capturedSpans(requests).filter((s) => s.name.startsWith('chat '));
}

describe("calls' spans made directly", () => {
  for (const protocol of ['http/json', 'http/protobuf'] as const) {
    it(`export exactly what the tracer exports (${protocol}): attributes, status, times, parents, trace state, records' trace context`, async () => {
      const direct = await scenario({}, protocol);
      const viaTracer = await scenario(VIA_TRACER, protocol);
      // The first span goes through the tracer (it shows the spans' resource and scope); of the other
      // eight, the unsampled one is not exported and the suppressed one is the tracer's (a non-recording span).
      expect(direct.direct).toBe(6);
      expect(viaTracer.direct).toBeUndefined();
      expect(comparable(direct.spans)).toEqual(comparable(viaTracer.spans));
      expect(comparable(direct.logs)).toEqual(comparable(viaTracer.logs));

      for (const run of [direct, viaTracer]) {
        const spans = ours(run.spans);
        const records = capturedLogs(run.logs);
        expect(spans.map((s) => s.attributes[ATTR.requestModel])).toEqual([
          'gpt-4o-mini',
          'claude-sonnet-4-5',
          'gpt-4o',
          'gpt-4o',
          'claude-sonnet-4-5',
          'gpt-4o-mini',
          'gpt-4o-mini',
        ]);
        expect(spans.map((s) => s.statusCode)).toEqual([0, 0, 2, 0, 0, 0, 0]);
        // Each record carries its span's context; the unsampled call's its parent's trace, the suppressed one none.
        expect(records).toHaveLength(9);
        const bySpan = new Map(spans.map((s) => [s.spanId, s]));
        const traced = records.filter((x) => bySpan.has(x.spanId));
        expect(traced).toHaveLength(7);
        for (const x of traced) expect(bySpan.get(x.spanId)?.traceId).toBe(x.traceId);
        expect(records[6]?.traceId).toBe(run.unsampledTraceId);
        expect(records[7]?.traceId ?? '').toBe('');
        // Inside the application's span: its children, in its trace.
        for (const s of spans.slice(4, 6)) {
          expect(s.traceId).toBe(run.app.traceId);
          expect(s.parentSpanId).toBe(run.app.spanId);
        }
        // The HTTP client's spans are children of the calls' spans and carry the mark naming them.
        const http = capturedSpans(run.spans).filter((s) => s.name === 'POST');
        expect(http).toHaveLength(2);
        for (const [h, call] of [
          [http[0], spans[5]],
          [http[1], spans[6]],
        ] as const) {
          expect(h?.parentSpanId).toBe(call?.spanId);
          expect(h?.traceId).toBe(call?.traceId);
          expect(h?.traceState).toBe(`${SDK_TRACESTATE.key}=${call?.spanId}`);
        }
      }
      // A backfill's times on both paths: from when the call started, for as long as it took.
      for (const run of [direct, viaTracer]) {
        const rs = (run.spans as Json[]).flatMap((q) =>
          (q.resourceSpans as Json[]).flatMap((x) =>
            (x.scopeSpans as Json[]).flatMap((y) => y.spans as Json[]),
          ),
        );
        const backfill = rs.find((s) =>
          String(s.startTimeUnixNano).startsWith(String(CALLS[3]?.startTimeMs)),
        );
        expect(backfill?.startTimeUnixNano).toBe(`${CALLS[3]?.startTimeMs}000000`);
        expect(backfill?.endTimeUnixNano).toBe(`${(CALLS[3]?.startTimeMs ?? 0) + 5}000000`);
      }
    });
  }

  it('a record with more attributes than a span may carry goes through the tracer, which bounds them', async () => {
    const r = await receiver();
    const t = start(r);
    expect(recordLLMUsage(CALLS[0] as LLMUsageInput).ok).toBe(true);
    const attributes = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`app.extra_${i}`, i]));
    expect(recordLLMUsage({ ...(CALLS[1] as LLMUsageInput), attributes }).ok).toBe(true);
    expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBe(1);
    await t.forceFlush();
    const spans = r.spans();
    expect(spans.map((s) => Object.keys(s.attributes).length)).toEqual([
      expect.any(Number),
      128,
      expect.any(Number),
    ]);
  });

  for (const [why, env] of [
    ['a sampler', { OTEL_TRACES_SAMPLER: 'always_off' }],
    ['a console exporter beside OTLP', { OTEL_TRACES_EXPORTER: 'otlp,console' }],
    ['a span attribute limit', { OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4' }],
    ["the SDK's own metrics", { OTEL_NODE_EXPERIMENTAL_SDK_METRICS: 'true' }],
  ] as const) {
    it(`with ${why}, every span goes through the tracer`, async () => {
      const log = vi.spyOn(console, 'dir').mockImplementation(() => {});
      cleanups.push(async () => log.mockRestore());
      const r = await receiver();
      const t = start(r, env);
      for (let i = 0; i < 3; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
      expect(directCount()).toBeUndefined();
      await t.forceFlush();
      expect(r.logs()).toHaveLength(3);
    });
  }

  it("with a limit or sampler in the process's environment (which NodeSDK reads), spans go through the tracer and follow it", async () => {
    vi.stubEnv('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', '4');
    const r = await receiver();
    const t = start(r);
    for (let i = 0; i < 2; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBeUndefined();
    await t.shutdown();
    expect(r.spans().map((s) => s.attributes[ATTR.requestModel])).toEqual(['clau', 'clau']);

    vi.stubEnv('OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', '');
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_off');
    const r2 = await receiver();
    const t2 = start(r2);
    for (let i = 0; i < 2; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBeUndefined();
    await t2.shutdown();
    expect(r2.spans()).toHaveLength(0);
    expect(r2.logs()).toHaveLength(2);
  });

  it("learn the SDK's own scope: another tracer's span (the service's, another copy of the SDK) ending first is not taken", async () => {
    const r = await receiver();
    const t = start(r);
    trace.getTracer('app').startSpan('work').end();
    trace.getTracer(SDK_SCOPE_NAME, '0.0.1-other-copy').startSpan('chat x').end();
    for (let i = 0; i < 3; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBe(2);
    await t.forceFlush();
    const groups = ((r.bodies.traces[0] as Json).resourceSpans as Json[]).flatMap(
      (rs) => rs.scopeSpans as Json[],
    );
    expect(
      groups.map((g) => [(g.scope as Json).name, (g.scope as Json).version, (g.spans as unknown[]).length]),
    ).toEqual([
      ['app', undefined, 1],
      [SDK_SCOPE_NAME, '0.0.1-other-copy', 1],
      [SDK_SCOPE_NAME, expect.any(String), 3],
    ]);
  });

  it('after shutdown nothing is queued directly', async () => {
    const r = await receiver();
    const t = start(r);
    expect(recordLLMUsage(CALLS[0] as LLMUsageInput).ok).toBe(true);
    const rt = activeRuntime();
    expect(rt?.directSpans).toBeDefined();
    await t.shutdown();
    expect(rt?.directSpans).toBeUndefined();
  });
});
