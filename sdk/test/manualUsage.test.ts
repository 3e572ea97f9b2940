import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import { nanoToUsd, priceUsage, recordEmbeddingUsage, recordLLMUsage, recordOCRUsage } from '../src/index.js';
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

describe('manual API', () => {
  it('recordLLMUsage emits a span and a log with the SDK’s own price', async () => {
    const before = await mark();
    const r = recordLLMUsage({
      provider: 'openai',
      model: 'gpt-4o-mini',
      inputTokens: 1000,
      outputTokens: 500,
      cacheReadInputTokens: 200,
      durationMs: 120,
      ttftMs: 30,
    });
    expect(r.ok).toBe(true);
    const { logs, spans } = await h.collect();
    const fresh = logs.slice(before);
    expect(fresh).toHaveLength(1);
    const a = fresh[0]?.attributes ?? {};
    expect(r.ok && a[ATTR.usageId]).toBe(r.ok ? r.usageId : '');
    expect(a).toMatchObject({
      [ATTR.operationName]: 'chat',
      [ATTR.serviceType]: 'llm',
      [ATTR.inputTokens]: 1000,
      [ATTR.outputTokens]: 500,
      [ATTR.cacheReadInputTokens]: 200,
      [ATTR.durationMs]: 120,
      [ATTR.ttftMs]: 30,
      [ATTR.usageType]: 'exact',
    });
    const price = priceUsage(
      {
        inputTokens: 1000,
        outputTokens: 500,
        cacheReadInputTokens: 200,
        cacheCreationInputTokens: 0,
        reasoningOutputTokens: 0,
      },
      { provider: 'openai', model: 'gpt-4o-mini' },
    );
    expect(price.status).toBe('priced');
    expect(a[ATTR.costUsd]).toBe(price.status === 'priced' ? nanoToUsd(price.costNanoUsd) : -1);
    const span = spans.find((s) => s.spanId === fresh[0]?.spanId);
    expect(span?.name).toBe('chat gpt-4o-mini');
  });

  it('never attaches a cost to an unpriced model (no $0)', async () => {
    const before = await mark();
    expect(
      recordLLMUsage({ provider: 'acme-ai', model: 'house-model-1', inputTokens: 5, outputTokens: 5 }).ok,
    ).toBe(true);
    const a = (await h.collect()).logs.slice(before)[0]?.attributes ?? {};
    expect(a[ATTR.inputTokens]).toBe(5);
    expect(ATTR.costUsd in a).toBe(false);
  });

  it('keeps extra attributes but drops content attributes while content capture is off', async () => {
    const before = await mark();
    const r = recordLLMUsage({
      provider: 'openai',
      model: 'gpt-4o-mini',
      inputTokens: 3,
      outputTokens: 1,
      attributes: {
        'app.route': '/search',
        'gen_ai.input.messages': 'secret',
        'gen_ai.prompt.0.content': 'secret',
        'input.value': 'secret',
        [ATTR.inputTokens]: 999,
      },
    });
    expect(r.ok).toBe(true);
    const a = (await h.collect()).logs.slice(before)[0]?.attributes ?? {};
    expect(a['app.route']).toBe('/search');
    expect(a[ATTR.inputTokens]).toBe(3);
    expect(Object.values(a)).not.toContain('secret');
  });

  it('recordEmbeddingUsage and recordOCRUsage carry their units', async () => {
    const before = await mark();
    expect(
      recordEmbeddingUsage({
        provider: 'openai',
        model: 'text-embedding-3-small',
        inputTokens: 300,
        inputs: 12,
      }).ok,
    ).toBe(true);
    expect(
      recordOCRUsage({ provider: 'mistral_ai', model: 'mistral-ocr-latest', pages: 7, durationMs: 900 }).ok,
    ).toBe(true);
    const { logs, spans } = await h.collect();
    const [emb, ocr] = logs.slice(before).map((l) => l.attributes);
    expect(emb).toMatchObject({
      [ATTR.operationName]: 'embeddings',
      [ATTR.serviceType]: 'embedding',
      [ATTR.inputTokens]: 300,
      [ATTR.outputTokens]: 0,
      [ATTR.embeddingInputs]: 12,
    });
    expect(ocr).toMatchObject({
      [ATTR.operationName]: 'ocr',
      [ATTR.serviceType]: 'ocr',
      [ATTR.ocrPages]: 7,
      [ATTR.durationMs]: 900,
    });
    expect(ocr?.[ATTR.inputTokens]).toBeUndefined();
    expect(spans.map((s) => s.name)).toContain('ocr mistral-ocr-latest');
  });

  it('refuses bad input with a reason, counts each refusal, and exports nothing', async () => {
    const before = await mark();
    const statsBefore = h.telemetry.stats().rejected;
    expect(Object.keys(statsBefore)).toHaveLength(0);
    const base = { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1 };
    const bad: [unknown, string][] = [
      [{ ...base, inputTokens: -1 }, 'input_tokens_negative'],
      [{ ...base, outputTokens: Number.NaN }, 'output_tokens_not_a_number'],
      [{ ...base, inputTokens: 1.5 }, 'input_tokens_fractional'],
      [{ ...base, inputTokens: Number.POSITIVE_INFINITY }, 'input_tokens_not_finite'],
      [{ ...base, inputTokens: '12' }, 'input_tokens_not_a_number'],
      [{ ...base, model: '' }, 'missing_model'],
      [{ ...base, model: undefined }, 'missing_model'],
      [{ ...base, provider: '  ' }, 'missing_provider'],
      [{ ...base, outputTokens: undefined }, 'missing_output_tokens'],
      [{ ...base, cacheReadInputTokens: 2 }, 'cache_tokens_exceed_input_tokens'],
      [{ ...base, reasoningOutputTokens: 5 }, 'reasoning_tokens_exceed_output_tokens'],
      [{ ...base, usageType: 'guessed' }, 'usage_type_invalid'],
      [null, 'not_an_object'],
    ];
    for (const [input, reason] of bad) {
      expect(recordLLMUsage(input as Parameters<typeof recordLLMUsage>[0])).toEqual({ ok: false, reason });
    }
    expect(recordOCRUsage({ provider: 'mistral_ai', model: 'ocr', pages: -3 })).toEqual({
      ok: false,
      reason: 'pages_negative',
    });
    expect(recordEmbeddingUsage({ provider: 'openai', model: 'e', inputTokens: 3, inputs: 0.5 })).toEqual({
      ok: false,
      reason: 'inputs_fractional',
    });
    const rejected = h.telemetry.stats().rejected;
    expect(rejected).toEqual({
      input_tokens_negative: 1,
      output_tokens_not_a_number: 1,
      input_tokens_fractional: 1,
      input_tokens_not_finite: 1,
      input_tokens_not_a_number: 1,
      missing_model: 2,
      missing_provider: 1,
      missing_output_tokens: 1,
      cache_tokens_exceed_input_tokens: 1,
      reasoning_tokens_exceed_output_tokens: 1,
      usage_type_invalid: 1,
      not_an_object: 1,
      pages_negative: 1,
      inputs_fractional: 1,
    });
    expect((await h.collect()).logs.length).toBe(before);
  });

  it('costUsd: the emitter’s own price is recorded and labelled as such; an invalid one is refused', async () => {
    const before = await mark();
    const r = recordLLMUsage({
      provider: 'my-gateway',
      model: 'house-model',
      inputTokens: 100,
      outputTokens: 10,
      costUsd: 0.00042,
      features: { tools: true, structuredOutput: true, searchGrounding: true },
    });
    expect(r.ok).toBe(true);
    const sdkPriced = recordLLMUsage({
      provider: 'openai',
      model: 'gpt-4o-mini',
      inputTokens: 1,
      outputTokens: 1,
    });
    expect(sdkPriced.ok).toBe(true);
    const logs = (await h.collect()).logs.slice(before);
    expect(logs).toHaveLength(2);
    expect(logs[0]?.attributes).toMatchObject({
      [ATTR.costUsd]: 0.00042,
      [ATTR.costSource]: 'emitter',
      [ATTR.requestTools]: true,
      [ATTR.requestStructuredOutput]: true,
      [ATTR.requestSearchGrounding]: true,
    });
    expect(logs[1]?.attributes[ATTR.costSource]).toBe('sdk');
    expect(logs[1]?.attributes[ATTR.requestTools]).toBeUndefined();
    for (const costUsd of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
      expect(
        recordLLMUsage({
          provider: 'openai',
          model: 'gpt-4o-mini',
          inputTokens: 1,
          outputTokens: 1,
          costUsd,
        }),
      ).toEqual({
        ok: false,
        reason: 'cost_usd_invalid',
      });
    }
    expect((await h.collect()).logs.length).toBe(before + 2);
  });
});
