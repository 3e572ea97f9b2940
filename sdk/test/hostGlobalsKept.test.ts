/**
 * startTelemetry in a process whose own setup registered only some OpenTelemetry globals (a logger
 * provider for its application logs, a propagator) and no tracer provider: spendline starts its own
 * pipeline, and its shutdown unregisters only the globals it registered, never the service's.
 * Its own file: registering globals is process-wide.
 */
import { propagation } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { afterAll, expect, it } from 'vitest';
import { USAGE_EVENT_NAME } from '../src/contract.js';
import { startHarness } from './support/harness.js';

const appLogs = new InMemoryLogRecordExporter();
logs.setGlobalLoggerProvider(
  new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: appLogs })] }),
);
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
afterAll(() => {
  logs.disable();
  propagation.disable();
});

it("keeps the service's logger provider and propagator registered after spendline's shutdown", async () => {
  const h = await startHarness();
  await h.openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'x' }],
  });
  const { logs: records } = await h.collect();
  expect(records.filter((l) => l.eventName === USAGE_EVENT_NAME)).toHaveLength(1);
  await h.close();

  logs.getLogger('app').emit({ body: 'after spendline stopped' });
  expect(appLogs.getFinishedLogRecords().map((r) => r.body)).toEqual(['after spendline stopped']);
  expect(propagation.fields()).toEqual(['traceparent', 'tracestate']);
});
