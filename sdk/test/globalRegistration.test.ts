import { trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import { type Harness, startHarness } from './support/harness.js';

// Its own file: registering globals is process-wide.
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ telemetry: { registerGlobal: true } });
});
afterAll(async () => {
  await h.close();
});

describe('registerGlobal: true', () => {
  it('parents the usage span under the host’s active span, across the awaited call', async () => {
    const hostTracer = trace.getTracer('host-app');
    const hostSpanId = await hostTracer.startActiveSpan('POST /checkout', async (span) => {
      await h.openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'x' }],
      });
      span.end();
      return span.spanContext().spanId;
    });
    const { logs, spans } = await h.collect();
    const usageSpan = spans.find((s) => s.name === 'chat gpt-4o-mini');
    const hostSpan = spans.find((s) => s.name === 'POST /checkout');
    expect(hostSpan?.spanId).toBe(hostSpanId);
    expect(usageSpan?.parentSpanId).toBe(hostSpanId);
    expect(usageSpan?.traceId).toBe(hostSpan?.traceId);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.spanId).toBe(usageSpan?.spanId);
    expect(logs[0]?.attributes[ATTR.inputTokens]).toBe(11);
    // The host's own span is not another record of the call: left as it is.
    expect(hostSpan?.attributes[ATTR.sdkRecorded]).toBeUndefined();
    expect(hostSpan?.traceState).toBe('');
  });

  it('marks a span of the host that describes the same call (an inference span around it)', async () => {
    const before = (await h.collect()).spans.length;
    await trace
      .getTracer('host-app')
      .startActiveSpan('chat by hand', { attributes: { [ATTR.operationName]: 'chat' } }, async (span) => {
        await h.openai.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'x' }],
        });
        span.end();
      });
    const spans = (await h.collect()).spans.slice(before);
    expect(spans.find((s) => s.name === 'chat by hand')?.attributes[ATTR.sdkRecorded]).toBe(true);
    expect(spans.find((s) => s.name === 'chat gpt-4o-mini')?.attributes[ATTR.sdkRecorded]).toBeUndefined();
  });
});
