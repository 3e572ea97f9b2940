/**
 * startTelemetry as a guest of the service's setup (its tracer provider registered first, batching its
 * spans): the handle's forceFlush and shutdown flush spendline's spans out of the service's provider,
 * as they do in spendline's own pipeline. Its own file: registering globals is process-wide.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, expect, it } from 'vitest';
import { startHarness } from './support/harness.js';

const hostSpans = new InMemorySpanExporter();
// Batches that would not leave on their own during the test.
const hostProvider = new BasicTracerProvider({
  spanProcessors: [
    new BatchSpanProcessor(hostSpans, { scheduledDelayMillis: 600_000, maxExportBatchSize: 512 }),
  ],
});
trace.setGlobalTracerProvider(hostProvider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
afterAll(async () => {
  await hostProvider.shutdown();
  trace.disable();
  context.disable();
});

it("flushes spendline's spans out of the service's tracer provider on forceFlush and on shutdown", async () => {
  const h = await startHarness();
  const call = () =>
    h.openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
  await call();
  await h.telemetry.forceFlush();
  expect(hostSpans.getFinishedSpans().map((s) => s.name)).toEqual(['chat gpt-4o-mini']);
  await call();
  await h.close();
  expect(hostSpans.getFinishedSpans().map((s) => s.name)).toEqual(['chat gpt-4o-mini', 'chat gpt-4o-mini']);
});
