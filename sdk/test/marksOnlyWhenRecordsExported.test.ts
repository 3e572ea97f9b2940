/**
 * The SDK marks another instrumentation's span of a call it records (the sidecar then does not count
 * that span) only when its own record of the call goes to spendline: with `OTEL_LOGS_EXPORTER` not
 * including `otlp` the record is not exported, and a marked span would leave the call counted nowhere.
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
import { ATTR } from '../src/contract.js';
import { instrumentOpenAI, startTelemetry } from '../src/index.js';
import { startFakeProvider } from '../src/testing/index.js';
import { startOtlpReceiver } from './support/otlpReceiver.js';

const hostSpans = new InMemorySpanExporter();
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(hostSpans)] }),
);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
afterAll(() => {
  trace.disable();
  context.disable();
});

/** One call with a peer instrumentation's inference span outside the SDK's wrapper and one inside it. */
async function callBesidePeer(logsExporter: string): Promise<{ outer: unknown; innerTraceState: unknown }> {
  const receiver = await startOtlpReceiver();
  const fake = await startFakeProvider({ models: {} });
  const telemetry = startTelemetry({
    serviceName: 'marks-service',
    env: { OTLP_ENDPOINT: receiver.url, OTEL_LOGS_EXPORTER: logsExporter },
    scheduledDelayMillis: 50,
    onWarning: () => {},
  });
  const peer = trace.getTracer('peer-genai');
  let innerTraceState: unknown;
  const openai = instrumentOpenAI(
    new OpenAI({
      apiKey: 'sk-test',
      baseURL: fake.openaiBaseURL,
      maxRetries: 0,
      // The peer's wrapper innermost: its span is made inside the SDK's call.
      fetch: (url, init) => {
        const inner = peer.startSpan('chat gpt-4o-mini', { attributes: { [ATTR.operationName]: 'chat' } });
        innerTraceState = inner.spanContext().traceState?.serialize() ?? '';
        inner.end();
        return fetch(url, init);
      },
    }),
  );
  hostSpans.reset();
  await peer.startActiveSpan(
    'chat gpt-4o-mini',
    { attributes: { [ATTR.operationName]: 'chat' } },
    async (outer) => {
      await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
      });
      outer.end();
    },
  );
  await telemetry.shutdown();
  await Promise.all([receiver.close(), fake.close()]);
  const outer = hostSpans
    .getFinishedSpans()
    .find((s) => s.instrumentationScope.name === 'peer-genai' && s.parentSpanContext === undefined);
  return { outer: outer?.attributes[ATTR.sdkRecorded], innerTraceState };
}

it('marks the peer spans of a call whose record goes to spendline', async () => {
  const r = await callBesidePeer('otlp');
  expect(r.outer).toBe(true);
  expect(r.innerTraceState).toMatch(/^spendline=[0-9a-f]{16}$/);
});

it('leaves them unmarked when the record is not exported to spendline (OTEL_LOGS_EXPORTER=none or console)', async () => {
  for (const exporter of ['none', 'console']) {
    const r = await callBesidePeer(exporter);
    expect(r.outer).toBeUndefined();
    expect(r.innerTraceState).toBe('');
  }
});
