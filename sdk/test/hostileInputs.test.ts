import type { AttributeValue } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capValueLength as sidecarCap } from '../../sidecar/src/pipeline/valueLength.js';
import { ATTR, MAX_VALUE_LENGTH } from '../src/contract.js';
import { recordLLMUsage, withUsageContext } from '../src/index.js';
import { type Harness, startHarness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

async function mark(): Promise<number> {
  return (await h.collect()).logs.length;
}
async function freshAttributes(before: number) {
  return (await h.collect()).logs.slice(before).map((l) => l.attributes);
}

describe('manual API against hostile values from JS callers', () => {
  it('refuses counts past 2^53 and a cost past nano-USD’s range (the sidecar would drop the record)', () => {
    const base = { provider: 'openai', model: 'gpt-4o-mini', outputTokens: 1 };
    expect(recordLLMUsage({ ...base, inputTokens: 2 ** 60 })).toEqual({
      ok: false,
      reason: 'input_tokens_too_large',
    });
    expect(recordLLMUsage({ ...base, inputTokens: 10, costUsd: 1e12 })).toEqual({
      ok: false,
      reason: 'cost_usd_invalid',
    });
    expect(h.telemetry.stats().rejected).toMatchObject({ input_tokens_too_large: 1, cost_usd_invalid: 1 });
  });

  it('refuses times the sidecar cannot store, times OpenTelemetry would misread, and durations past 30 days', () => {
    const base = { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1 };
    // 1_000 and 1990: OpenTelemetry reads a number below half of the process's time origin as a
    // performance.now() offset (it would be exported as a time near now).
    for (const startTimeMs of [-1, 0, 1e20, 1_000, Date.UTC(1990, 0, 1)]) {
      expect(recordLLMUsage({ ...base, startTimeMs })).toEqual({
        ok: false,
        reason: 'start_time_ms_invalid',
      });
    }
    expect(recordLLMUsage({ ...base, durationMs: 1e300 })).toEqual({
      ok: false,
      reason: 'duration_ms_invalid',
    });
    expect(recordLLMUsage({ ...base, durationMs: 31 * 24 * 3_600_000 })).toEqual({
      ok: false,
      reason: 'duration_ms_invalid',
    });
    expect(recordLLMUsage({ ...base, startTimeMs: Date.now() - 5000, durationMs: 4000 }).ok).toBe(true);
    // A backfill of calls made before this process started keeps its times.
    expect(recordLLMUsage({ ...base, startTimeMs: Date.UTC(2024, 0, 1), durationMs: 4000 }).ok).toBe(true);
  });

  it('records absurd but safe counts without an SDK price past nano-USD’s range', async () => {
    const before = await mark();
    expect(
      recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 2 ** 52, outputTokens: 2 ** 52 }).ok,
    ).toBe(true);
    const [a] = await freshAttributes(before);
    expect(a?.[ATTR.inputTokens]).toBe(2 ** 52);
    expect(a?.[ATTR.costUsd]).toBeUndefined();
  });

  it('extra attributes cannot set usage, cost, provider or emitter names; invalid values are dropped', async () => {
    const before = await mark();
    const attributes = {
      'app.route': '/search',
      [ATTR.costUsd]: 0,
      [ATTR.costSource]: 'sdk',
      [ATTR.cacheReadInputTokens]: 7,
      [ATTR.usageType]: 'exact',
      'gen_ai.usage.prompt_tokens': 999,
      'gen_ai.usage.cache_read_input_tokens': 5,
      'server.address': 'api.groq.com',
      'telemetry.sdk.name': 'openlit',
      'service.name': 'spoofed',
      [ATTR.feature]: 'checkout',
      'app.object': { nested: true },
      'app.nan': Number.NaN,
      'app.mixed': ['a', 1],
      'app.long': 'x'.repeat(100_000),
    } as unknown as Record<string, AttributeValue>;
    // An unpriced model: a $0 smuggled in through the extras would be the only cost on the record.
    const r = recordLLMUsage({
      provider: 'my-gateway',
      model: 'house-model',
      inputTokens: 10,
      outputTokens: 2,
      attributes,
    });
    expect(r.ok).toBe(true);
    const [a = {}] = await freshAttributes(before);
    expect(a['app.route']).toBe('/search');
    expect(a[ATTR.feature]).toBe('checkout');
    for (const k of [
      ATTR.costUsd,
      ATTR.costSource,
      ATTR.cacheReadInputTokens,
      'gen_ai.usage.prompt_tokens',
      'gen_ai.usage.cache_read_input_tokens',
      'server.address',
      'telemetry.sdk.name',
      'service.name',
      'app.object',
      'app.nan',
      'app.mixed',
    ]) {
      expect(a[k], k).toBeUndefined();
    }
    expect(a[ATTR.usageType]).toBe('exact');
    expect(String(a['app.long']).length).toBe(4096);
  });

  it('attributes given as a string (not an object) add nothing', async () => {
    const before = await mark();
    const r = recordLLMUsage({
      provider: 'openai',
      model: 'gpt-4o-mini',
      inputTokens: 1,
      outputTokens: 1,
      attributes: 'abc' as unknown as Record<string, AttributeValue>,
    });
    expect(r.ok).toBe(true);
    const [a = {}] = await freshAttributes(before);
    expect(a['0']).toBeUndefined();
  });
});

describe('attribution and model values are bounded as the sidecar bounds them', () => {
  it('a 100k-character user id and model name leave as the sidecar’s own 128-character cut, distinct ids distinct', async () => {
    const before = await mark();
    const longA = `user-${'a'.repeat(100_000)}`;
    const longB = `user-${'a'.repeat(99_999)}b`;
    const model = `gpt-4o-mini-${'m'.repeat(50_000)}`;
    await withUsageContext({ userId: longA, feature: 'f'.repeat(300) }, () =>
      h.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
    );
    await withUsageContext({ userId: longB }, () =>
      h.openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }),
    );
    const [a = {}, b = {}] = await freshAttributes(before);
    expect(a[ATTR.userId]).toBe(sidecarCap(longA));
    expect(b[ATTR.userId]).toBe(sidecarCap(longB));
    expect(a[ATTR.userId]).not.toBe(b[ATTR.userId]);
    expect(String(a[ATTR.userId]).length).toBe(MAX_VALUE_LENGTH);
    expect(a[ATTR.feature]).toBe(sidecarCap('f'.repeat(300)));
    expect(a[ATTR.requestModel]).toBe(sidecarCap(model));
    const spans = (await h.collect()).spans.filter(
      (s) => s.attributes[ATTR.requestModel] === sidecarCap(model),
    );
    expect(spans).toHaveLength(2);
    for (const s of spans) expect(s.name).toBe(`chat ${sidecarCap(model)}`);
  });
});

describe('a collector that hangs or refuses', () => {
  it.each([
    ['hangs', { kind: 'hang' } as const],
    ['answers 503', { kind: 'status', status: 503 } as const],
  ])(
    'while it %s, calls return their replies and every call is still recorded (queued)',
    async (_label, mode) => {
      const emitted = h.telemetry.stats().recordsEmitted;
      h.receiver.setMode(mode);
      try {
        for (let i = 0; i < 20; i++) {
          const r = await h.openai.chat.completions.create({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'hi' }],
          });
          expect(r.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
        }
        expect(h.telemetry.stats().recordsEmitted).toBe(emitted + 20);
      } finally {
        h.receiver.setMode({ kind: 'ok' });
      }
    },
  );
});
