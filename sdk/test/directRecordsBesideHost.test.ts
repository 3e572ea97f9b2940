/**
 * Usage records queued directly (src/telemetry/directRecords.ts) beside a service's own setup whose
 * sampler drops every trace: spendline is its guest, with its own logger provider. The records carry
 * the host's unsampled span context exactly as `Logger.emit` would. Its own file: globals are process-wide.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, expect, it } from 'vitest';
import { type LLMUsageInput, recordLLMUsage, startTelemetry } from '../src/index.js';
import { activeRuntime } from '../src/telemetry/runtime.js';
import { startOtlpReceiver } from './support/otlpReceiver.js';

const hostProvider = new BasicTracerProvider({
  sampler: new AlwaysOffSampler(),
  spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())],
});
trace.setGlobalTracerProvider(hostProvider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
afterAll(() => {
  trace.disable();
  context.disable();
});

type Json = Record<string, unknown>;

it('as a guest of a host that samples everything out, direct records export what the logger exports', async () => {
  const exported: Json[][] = [];
  const directs: (number | undefined)[] = [];
  for (const env of [{}, { OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '128' }]) {
    const r = await startOtlpReceiver();
    const t = startTelemetry({
      env: { OTLP_ENDPOINT: r.url, ...env },
      serviceName: 'host-svc',
      onWarning: () => {},
    });
    const call: LLMUsageInput = { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 5, outputTokens: 2 };
    await trace.getTracer('host-app').startActiveSpan('POST /checkout', async (span) => {
      for (let i = 0; i < 3; i++) expect(recordLLMUsage(call).ok).toBe(true);
      span.end();
    });
    directs.push(activeRuntime()?.directRecords?.emitted);
    await t.shutdown();
    await r.close();
    const records: Json[] = [];
    for (const b of r.bodies.logs)
      for (const rl of (b as Json).resourceLogs as Json[])
        for (const sl of rl.scopeLogs as Json[]) records.push(...(sl.logRecords as Json[]));
    exported.push(records);
  }
  expect(directs).toEqual([2, undefined]);
  const [direct, viaLogger] = exported as [Json[], Json[]];
  expect(direct).toHaveLength(3);
  const shape = (x: Json) => ({
    flags: x.flags ?? 0,
    traceId: typeof x.traceId,
    spanId: typeof x.spanId,
    sev: x.severityNumber,
  });
  expect(direct.map(shape)).toEqual(viaLogger.map(shape));
  // The host's sampler made each span: a valid, unsampled context, which the record carries.
  for (const x of direct) expect(String(x.traceId)).toMatch(/^[0-9a-f]{32}$/);
});
