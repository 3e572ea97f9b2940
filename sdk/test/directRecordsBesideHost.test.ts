/**
 * Usage records queued directly (src/telemetry/directRecords.ts) beside a service's own setup whose
 * sampler drops every trace: spendline is its guest, with its own logger provider. The records carry
 * the host's unsampled span context exactly as `Logger.emit` would; with register's lazy start too, none
 * reach the host's own (global) logger provider. Its own file: globals are process-wide.
 */
import { context, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, expect, it } from 'vitest';
import { type LLMUsageInput, recordLLMUsage, startTelemetry } from '../src/index.js';
import { activeRuntime } from '../src/telemetry/runtime.js';
import { startTelemetryOnFirstRecord } from '../src/telemetry/startTelemetry.js';
import { startOtlpReceiver } from './support/otlpReceiver.js';

const hostProvider = new BasicTracerProvider({
  sampler: new AlwaysOffSampler(),
  spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())],
});
trace.setGlobalTracerProvider(hostProvider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
// The host's own logs (its logger provider is the global one).
const hostLogs = new InMemoryLogRecordExporter();
logs.setGlobalLoggerProvider(
  new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: hostLogs })] }),
);
afterAll(() => {
  trace.disable();
  context.disable();
  logs.disable();
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

it("register's lazy start as the host's guest: the first record, through spendline's logger, shows its resource; none reach the host's logs", async () => {
  const r = await startOtlpReceiver();
  const t = startTelemetryOnFirstRecord({
    env: { OTLP_ENDPOINT: r.url },
    serviceName: 'lazy-guest',
    onWarning: () => {},
  });
  for (let i = 0; i < 3; i++)
    expect(
      recordLLMUsage({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 5, outputTokens: 2 }).ok,
    ).toBe(true);
  expect(activeRuntime()?.directRecords?.emitted).toBe(2);
  await t.shutdown();
  await r.close();
  expect(r.logs().map((l) => l.resource['service.name'])).toEqual(Array(3).fill('lazy-guest'));
  // The host's logs still go to its own provider: only its own record is there.
  logs.getLogger('host-app').emit({ body: 'checkout done' });
  expect(hostLogs.getFinishedLogRecords().map((l) => l.body)).toEqual(['checkout done']);
});
