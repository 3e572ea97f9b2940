/**
 * startTelemetry in a process whose own OpenTelemetry setup already holds the globals (its tracer
 * provider and context manager registered first): spendline registers nothing and joins it. Its spans
 * go through the host's tracer provider, inside the host's active span; its usage records go to
 * spendline's endpoint only; its shutdown leaves the host's globals in place.
 * Its own file: registering globals is process-wide.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterAll, expect, it } from 'vitest';
import { ATTR, USAGE_EVENT_NAME } from '../src/contract.js';
import { instrumentOpenAI, recordLLMUsage, startTelemetry } from '../src/index.js';
import { startFakeProvider } from '../src/testing/index.js';
import { type Harness, startHarness } from './support/harness.js';
import { startOtlpReceiver } from './support/otlpReceiver.js';

const hostSpans = new InMemorySpanExporter();
const hostProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(hostSpans)] });
trace.setGlobalTracerProvider(hostProvider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

let h: Harness | undefined;
afterAll(async () => {
  await h?.close();
  trace.disable();
  context.disable();
});

it('joins the host setup: spans through its tracer provider, records to spendline, its globals kept', async () => {
  h = await startHarness();
  const host = trace.getTracer('host-app');
  const hostSpanId = await host.startActiveSpan('POST /checkout', async (span) => {
    await h?.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });
    span.end();
    return span.spanContext().spanId;
  });
  const { logs, spans } = await h.collect();
  // The record goes to spendline's endpoint, the span to the host's exporter (not to spendline's).
  expect(logs.filter((l) => l.eventName === USAGE_EVENT_NAME)).toHaveLength(1);
  expect(spans).toEqual([]);
  const ours = hostSpans.getFinishedSpans().find((s) => s.name === 'chat gpt-4o-mini');
  expect(ours?.parentSpanContext?.spanId).toBe(hostSpanId);
  expect(ours?.attributes[ATTR.usageId]).toBe(logs[0]?.attributes[ATTR.usageId]);
  expect(logs[0]?.spanId).toBe(ours?.spanContext().spanId);
  expect(logs[0]?.resource['service.name']).toBe('harness-service');

  await h.telemetry.shutdown();
  // The host's globals are still the ones in use: its spans record, its context propagates.
  hostSpans.reset();
  const parent = host.startSpan('after spendline stopped');
  context.with(trace.setSpan(context.active(), parent), () => host.startSpan('child').end());
  parent.end();
  const after = hostSpans.getFinishedSpans();
  expect(after.map((s) => s.name)).toEqual(['child', 'after spendline stopped']);
  expect(after[0]?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
});

it('honours OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT on its own logger provider, as NodeSDK does', async () => {
  const receiver = await startOtlpReceiver();
  const fake = await startFakeProvider();
  const telemetry = startTelemetry({
    serviceName: 'limits',
    env: { OTLP_ENDPOINT: receiver.url, OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '5' },
    onWarning: () => {},
  });
  try {
    const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: fake.openaiBaseURL, maxRetries: 0 }));
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });
    await telemetry.forceFlush();
    const logs = receiver.logs().filter((l) => l.eventName === USAGE_EVENT_NAME);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.attributes[ATTR.requestModel]).toBe('gpt-4');
    expect(logs[0]?.attributes[ATTR.inputTokens]).toBe(11);
  } finally {
    await telemetry.shutdown();
    await Promise.all([receiver.close(), fake.close()]);
  }
});

it('reads an OpenTelemetry record limit of 0 as NodeSDK does (invalid, the default), not as "no attributes"', async () => {
  const receiver = await startOtlpReceiver();
  const telemetry = startTelemetry({
    env: {
      OTLP_ENDPOINT: receiver.url,
      OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '0',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '0',
    },
    onWarning: () => {},
  });
  try {
    expect(
      recordLLMUsage({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 11, outputTokens: 7 }).ok,
    ).toBe(true);
    await telemetry.forceFlush();
    const logs = receiver.logs().filter((l) => l.eventName === USAGE_EVENT_NAME);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.attributes[ATTR.inputTokens]).toBe(11);
    expect(logs[0]?.attributes[ATTR.requestModel]).toBe('gpt-4o-mini');
  } finally {
    await telemetry.shutdown();
    await receiver.close();
  }
});
