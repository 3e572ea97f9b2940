import { describe, expect, it } from 'vitest';
import type { TokenCounts } from '../src/contract.js';
import { createPricer, priceUsage, type UsageToPrice } from '../src/pricing/index.js';

// Rates below are the $/MTok listed in @pydantic/genai-prices 0.1.8's bundled catalog.
// 1 token at $X/MTok = X * 1e9 / 1e6 nano-USD = X * 1000 nano-USD.
function tokens(t: Partial<TokenCounts>): UsageToPrice {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: 0,
    ...t,
  };
}

const AT = new Date('2026-01-01T12:00:00Z');

describe('priceUsage against the bundled catalog (hand-computed)', () => {
  it('prices OpenAI gpt-4o snapshot with cached input and reasoning tokens apart', () => {
    // gpt-4o: input 2.5, cache_read 1.25, output 10 (no reasoning rate -> output rate)
    // input 1000 incl. 200 cached -> 800 * 2500 = 2,000,000; cache 200 * 1250 = 250,000
    // output 500 incl. 100 reasoning -> 400 * 10000 = 4,000,000; reasoning 100 * 10000 = 1,000,000
    const r = priceUsage(
      tokens({ inputTokens: 1000, cacheReadInputTokens: 200, outputTokens: 500, reasoningOutputTokens: 100 }),
      { provider: 'openai', model: 'gpt-4o-2024-08-06', at: AT },
    );
    expect(r).toEqual({
      status: 'priced',
      costNanoUsd: 7_250_000,
      parts: {
        input: 2_000_000,
        cache_read: 250_000,
        cache_write: 0,
        output: 4_000_000,
        reasoning: 1_000_000,
        pages: 0,
        requests: 0,
      },
      source: 'catalog',
      providerId: 'openai',
      modelId: 'gpt-4o',
    });
  });

  it('prices OpenAI gpt-4o-mini with a provider-prefixed model name', () => {
    // gpt-4o-mini: input 0.15, cache_read 0.075, output 0.6
    // 12,345 uncached * 150 = 1,851,750; 1,024 cached * 75 = 76,800; 678 * 600 = 406,800 -> 2,335,350
    const r = priceUsage(tokens({ inputTokens: 13_369, cacheReadInputTokens: 1024, outputTokens: 678 }), {
      provider: 'openai',
      model: 'openai/gpt-4o-mini',
      at: AT,
    });
    expect(r).toMatchObject({ status: 'priced', costNanoUsd: 2_335_350, modelId: 'gpt-4o-mini' });
  });

  it('prices OpenAI o3-mini reasoning at the output rate', () => {
    // o3-mini: input 1.1, cache_read 0.55, output 4.4
    // 2000 * 1100 = 2,200,000; output 3000 = 1000 visible + 2000 reasoning, all at 4400 -> 13,200,000
    const r = priceUsage(tokens({ inputTokens: 2000, outputTokens: 3000, reasoningOutputTokens: 2000 }), {
      provider: 'openai',
      model: 'o3-mini',
      at: AT,
    });
    expect(r).toMatchObject({ status: 'priced', costNanoUsd: 15_400_000 });
    if (r.status === 'priced') expect([r.parts.output, r.parts.reasoning]).toEqual([4_400_000, 8_800_000]);
  });

  it('prices OpenAI o1 with cache and reasoning', () => {
    // o1: input 15, cache_read 7.5, output 60
    // 300 uncached * 15000 = 4,500,000; 700 cached * 7500 = 5,250,000; 50 * 60000 = 3,000,000;
    // 450 reasoning * 60000 = 27,000,000 -> 39,750,000
    const r = priceUsage(
      tokens({ inputTokens: 1000, cacheReadInputTokens: 700, outputTokens: 500, reasoningOutputTokens: 450 }),
      { provider: 'openai', model: 'o1', at: AT },
    );
    expect(r).toMatchObject({ status: 'priced', costNanoUsd: 39_750_000 });
  });

  it('prices the o3 price cut by date (10/40 before 2025-06-10, 2/8 after)', () => {
    const u = tokens({ inputTokens: 1000, outputTokens: 1000 });
    // before: 1000 * 10000 + 1000 * 40000 = 50,000,000; after: 1000 * 2000 + 1000 * 8000 = 10,000,000
    expect(
      priceUsage(u, { provider: 'openai', model: 'o3', at: new Date('2025-06-09T23:59:59Z') }),
    ).toMatchObject({
      costNanoUsd: 50_000_000,
    });
    expect(
      priceUsage(u, { provider: 'openai', model: 'o3', at: new Date('2025-06-10T00:00:00Z') }),
    ).toMatchObject({
      costNanoUsd: 10_000_000,
    });
  });

  it('prices an OpenAI embedding (input only)', () => {
    // text-embedding-3-small: input 0.02 -> 20 nano per token; 7 tokens = 140
    expect(
      priceUsage(tokens({ inputTokens: 7 }), { provider: 'openai', model: 'text-embedding-3-small' }),
    ).toMatchObject({
      costNanoUsd: 140,
    });
  });

  it('rounds once per call and apportions parts so they sum to the total (deepseek-v3.2)', () => {
    // deepseek-v3.2: input 0.2288 -> 228.8 nano/token, output 0.3432 -> 343.2 nano/token
    // 1 + 1 token: exact 572.0 -> 572 (rounding each part first would give 229 + 343 = 572 too, but
    // 3 + 1: 686.4 + 343.2 = 1029.6 -> 1030, where per-part rounding would give 686 + 343 = 1029)
    const ref = { provider: 'deepseek', model: 'deepseek-v3.2', at: AT };
    const r = priceUsage(tokens({ inputTokens: 3, outputTokens: 1 }), ref);
    expect(r).toMatchObject({ status: 'priced', costNanoUsd: 1030, parts: { input: 687, output: 343 } });
    const one = priceUsage(tokens({ inputTokens: 1, outputTokens: 1 }), ref);
    expect(one).toMatchObject({ costNanoUsd: 572, parts: { input: 229, output: 343 } });
  });

  it('prices Anthropic claude-3-5-sonnet with cache read and cache write', () => {
    // claude-3-5-sonnet: input 3, cache_write 3.75, cache_read 0.3, output 15
    // semconv input 10,000 = 1,000 uncached + 8,000 read + 1,000 written
    // 1000 * 3000 = 3,000,000; 8000 * 300 = 2,400,000; 1000 * 3750 = 3,750,000; 200 * 15000 = 3,000,000
    const r = priceUsage(
      tokens({
        inputTokens: 10_000,
        cacheReadInputTokens: 8000,
        cacheCreationInputTokens: 1000,
        outputTokens: 200,
      }),
      { provider: 'anthropic', model: 'claude-3-5-sonnet-20240620', at: AT },
    );
    expect(r).toEqual({
      status: 'priced',
      costNanoUsd: 12_150_000,
      parts: {
        input: 3_000_000,
        cache_read: 2_400_000,
        cache_write: 3_750_000,
        output: 3_000_000,
        reasoning: 0,
        pages: 0,
        requests: 0,
      },
      source: 'catalog',
      providerId: 'anthropic',
      modelId: 'claude-3-5-sonnet',
    });
  });

  it('prices Anthropic claude-opus-4-1 with cache and thinking tokens', () => {
    // claude-opus-4-1: input 15, cache_write 18.75, cache_read 1.5, output 75
    // 500 * 15000 = 7,500,000; 2000 * 1500 = 3,000,000; 100 * 18750 = 1,875,000;
    // output 1000 = 400 visible + 600 thinking, all at 75000 -> 75,000,000; total 87,375,000
    const r = priceUsage(
      tokens({
        inputTokens: 2600,
        cacheReadInputTokens: 2000,
        cacheCreationInputTokens: 100,
        outputTokens: 1000,
        reasoningOutputTokens: 600,
      }),
      { provider: 'anthropic', model: 'claude-opus-4-1-20250805', at: AT },
    );
    expect(r).toMatchObject({ status: 'priced', costNanoUsd: 87_375_000, modelId: 'claude-opus-4-1' });
  });

  it('prices Anthropic claude-3-5-haiku with a fractional nano amount rounded half-even', () => {
    // claude-3-5-haiku-latest: input 0.8, cache_write 1, cache_read 0.08, output 4
    // 3 cached tokens * 80 = 240; 1 uncached * 800 = 800; 1 written * 1000 = 1000; 1 output * 4000 -> 6,040
    const r = priceUsage(
      tokens({ inputTokens: 5, cacheReadInputTokens: 3, cacheCreationInputTokens: 1, outputTokens: 1 }),
      { provider: 'anthropic', model: 'claude-3-5-haiku-latest', at: AT },
    );
    expect(r).toMatchObject({ status: 'priced', costNanoUsd: 6040 });
  });

  it('prices Anthropic long-context tiers of claude-sonnet-4-5 by total input tokens', () => {
    // claude-sonnet-4-5: base input 3 / cache_read 0.3 / output 15; above 200k input: 6 / 0.6 / 22.5
    // 200,000 input (not above the tier start): 200000 * 3000 = 600,000,000 + 1000 * 15000 = 15,000,000
    const at = { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', at: AT };
    expect(priceUsage(tokens({ inputTokens: 200_000, outputTokens: 1000 }), at)).toMatchObject({
      costNanoUsd: 615_000_000,
    });
    // 200,001 input of which 100,000 cache read: 100001 * 6000 = 600,006,000; 100000 * 600 = 60,000,000;
    // 1000 * 22500 = 22,500,000 -> 682,506,000
    expect(
      priceUsage(tokens({ inputTokens: 200_001, cacheReadInputTokens: 100_000, outputTokens: 1000 }), at),
    ).toMatchObject({ costNanoUsd: 682_506_000 });
  });

  it('prices Bedrock model ids (with and without region prefix) and Amazon Nova', () => {
    // regional.anthropic.claude-3-5-sonnet-20240620-v1:0: input 3, cache_write 3.75, cache_read 0.3, output 15
    // 700 * 3000 = 2,100,000; 200 * 300 = 60,000; 100 * 3750 = 375,000; 500 * 15000 = 7,500,000
    const u = tokens({
      inputTokens: 1000,
      cacheReadInputTokens: 200,
      cacheCreationInputTokens: 100,
      outputTokens: 500,
    });
    for (const model of [
      'anthropic.claude-3-5-sonnet-20240620-v1:0',
      'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
    ]) {
      expect(priceUsage(u, { provider: 'aws.bedrock', model, at: AT })).toMatchObject({
        costNanoUsd: 10_035_000,
        providerId: 'aws',
      });
    }
    // amazon.nova-pro-v1:0: input 0.8, cache_read 0.2, output 3.2
    // no cache_write rate: the 100 written tokens are priced at the input rate 0.8
    // 700 * 800 = 560,000; 200 * 200 = 40,000; 100 * 800 = 80,000; 500 * 3200 = 1,600,000 -> 2,280,000
    expect(priceUsage(u, { provider: 'aws.bedrock', model: 'amazon.nova-pro-v1:0', at: AT })).toMatchObject({
      costNanoUsd: 2_280_000,
      parts: { input: 560_000, cache_read: 40_000, cache_write: 80_000, output: 1_600_000 },
    });
  });

  it('prices Google Gemini flat and tiered (> 200k prompt) prices', () => {
    // gemini-2.0-flash: input 0.1, cache_read 0.025, output 0.4
    // 9000 * 100 = 900,000; 1000 * 25 = 25,000; 2000 * 400 = 800,000 -> 1,725,000
    expect(
      priceUsage(tokens({ inputTokens: 10_000, cacheReadInputTokens: 1000, outputTokens: 2000 }), {
        provider: 'gcp.gemini',
        model: 'gemini-2.0-flash',
        at: AT,
      }),
    ).toMatchObject({ costNanoUsd: 1_725_000, providerId: 'google' });
    // gemini-2.5-pro: input 1.25 -> 2.5, cache_read 0.125 -> 0.25, output 10 -> 15 above 200k input
    // 100k: 100000 * 1250 = 125,000,000 + 500 * 10000 = 5,000,000 -> 130,000,000
    const pro = { provider: 'gcp.vertex_ai', model: 'gemini-2.5-pro', at: AT };
    expect(priceUsage(tokens({ inputTokens: 100_000, outputTokens: 500 }), pro)).toMatchObject({
      costNanoUsd: 130_000_000,
    });
    // 250k incl. 50k cached: 200000 * 2500 = 500,000,000; 50000 * 250 = 12,500,000; 500 * 15000 = 7,500,000
    expect(
      priceUsage(tokens({ inputTokens: 250_000, cacheReadInputTokens: 50_000, outputTokens: 500 }), pro),
    ).toMatchObject({ costNanoUsd: 520_000_000 });
  });

  it('prices Mistral chat tokens and OCR pages by date', () => {
    // mistral-large: input 2, output 6 -> 1500 * 2000 + 500 * 6000 = 6,000,000
    expect(
      priceUsage(tokens({ inputTokens: 1500, outputTokens: 500 }), {
        provider: 'mistral_ai',
        model: 'mistral-large-latest',
        at: AT,
      }),
    ).toMatchObject({ costNanoUsd: 6_000_000, providerId: 'mistral', modelId: 'mistral-large' });
    // mistral-ocr-latest input_document_kpages: 1 (before 2025-12-18), 2 (from 2025-12-18), 4 (from 2026-06-23)
    // 3 pages at $2/1000 pages = 0.006 USD = 6,000,000 nano; at $4/1000 = 12,000,000
    const ocr = tokens({});
    expect(
      priceUsage({ ...ocr, ocrPages: 3 }, { provider: 'mistral_ai', model: 'mistral-ocr-latest', at: AT }),
    ).toMatchObject({
      costNanoUsd: 6_000_000,
      parts: { pages: 6_000_000 },
    });
    expect(
      priceUsage(
        { ...ocr, ocrPages: 3 },
        { provider: 'mistral_ai', model: 'mistral-ocr-latest', at: new Date('2026-07-01T00:00:00Z') },
      ),
    ).toMatchObject({ costNanoUsd: 12_000_000 });
  });

  it('prices DeepSeek by time of day (standard 00:30-16:30 UTC, off-peak otherwise)', () => {
    // deepseek-chat standard: input 0.27, cache_read 0.07, output 1.1; off-peak: 0.135, 0.035, 0.55
    // standard: 900 * 270 + 100 * 70 + 1000 * 1100 = 243,000 + 7,000 + 1,100,000 = 1,350,000
    const u = tokens({ inputTokens: 1000, cacheReadInputTokens: 100, outputTokens: 1000 });
    expect(
      priceUsage(u, { provider: 'deepseek', model: 'deepseek-chat', at: new Date('2026-01-01T12:00:00Z') }),
    ).toMatchObject({
      costNanoUsd: 1_350_000,
    });
    // off-peak: 900 * 135 + 100 * 35 + 1000 * 550 = 121,500 + 3,500 + 550,000 = 675,000
    expect(
      priceUsage(u, { provider: 'deepseek', model: 'deepseek-chat', at: new Date('2026-01-01T17:00:00Z') }),
    ).toMatchObject({
      costNanoUsd: 675_000,
    });
  });

  it('maps semconv provider names: azure.ai.openai -> azure (OpenAI fallback), x_ai -> x-ai', () => {
    // gpt-4o via Azure's fallback to the OpenAI catalog: 1000 * 2500 + 1000 * 10000 = 12,500,000
    const u = tokens({ inputTokens: 1000, outputTokens: 1000 });
    expect(priceUsage(u, { provider: 'azure.ai.openai', model: 'gpt-4o', at: AT })).toMatchObject({
      costNanoUsd: 12_500_000,
      providerId: 'azure',
    });
    // grok-3: input 3, cache_read 0.75, output 15 -> 1000 * 3000 + 1000 * 15000 = 18,000,000
    expect(priceUsage(u, { provider: 'x_ai', model: 'grok-3', at: AT })).toMatchObject({
      costNanoUsd: 18_000_000,
      providerId: 'x-ai',
    });
  });

  it('returns unpriced, never $0, for unknown providers, models and unpriceable usage', () => {
    const u = tokens({ inputTokens: 10, outputTokens: 10 });
    expect(priceUsage(u, { provider: 'openai', model: 'gpt-9-imaginary' })).toEqual({
      status: 'unpriced',
      reason: 'unknown_model',
    });
    expect(priceUsage(u, { provider: 'acme-llm', model: 'gpt-4o' })).toEqual({
      status: 'unpriced',
      reason: 'unknown_provider',
    });
    // mistral-ocr-latest has only a page price: tokens cannot be priced
    expect(priceUsage(u, { provider: 'mistral_ai', model: 'mistral-ocr-latest', at: AT })).toEqual({
      status: 'unpriced',
      reason: 'no_price_for_usage',
    });
    // pages on a token-only model
    expect(priceUsage({ ...tokens({}), ocrPages: 1 }, { provider: 'openai', model: 'gpt-4o' })).toEqual({
      status: 'unpriced',
      reason: 'no_price_for_usage',
    });
    // a fractional count is not a usage anyone can be billed for
    expect(priceUsage(tokens({ inputTokens: 1.5 }), { provider: 'openai', model: 'gpt-4o' })).toEqual({
      status: 'unpriced',
      reason: 'no_price_for_usage',
    });
  });

  it('gives the same totals from costNanoUsd (no parts), and null for everything unpriced', () => {
    const pricer = createPricer();
    const u = tokens({ inputTokens: 10, outputTokens: 10 });
    expect(pricer.costNanoUsd(u, { provider: 'openai', model: 'gpt-9-imaginary' })).toBeNull();
    expect(pricer.costNanoUsd(u, { provider: 'acme-llm', model: 'gpt-4o' })).toBeNull();
    expect(pricer.costNanoUsd(u, { provider: 'mistral_ai', model: 'mistral-ocr-latest', at: AT })).toBeNull();
    expect(
      pricer.costNanoUsd(tokens({ inputTokens: 1.5 }), { provider: 'openai', model: 'gpt-4o' }),
    ).toBeNull();
    expect(pricer.costNanoUsd(tokens({}), { provider: 'openai', model: 'gpt-4o' })).toBe(0);
    expect(
      pricer.costNanoUsd(
        { ...tokens({}), ocrPages: 3 },
        { provider: 'mistral_ai', model: 'mistral-ocr-latest', at: new Date('2026-07-01T00:00:00Z') },
      ),
    ).toBe(12_000_000);
    // and exactly priceUsage's total for an ordinary call
    const haiku = { provider: 'anthropic', model: 'claude-3-5-haiku-20241022', at: AT };
    const odd = tokens({ inputTokens: 7, outputTokens: 3 });
    const full = pricer.priceUsage(odd, haiku);
    expect(full.status).toBe('priced');
    expect(pricer.costNanoUsd(odd, haiku)).toBe(full.status === 'priced' ? full.costNanoUsd : Number.NaN);
  });

  it('prices a zero-token call on a known model at exactly 0 (priced, not unpriced)', () => {
    expect(priceUsage(tokens({}), { provider: 'openai', model: 'gpt-4o' })).toMatchObject({
      status: 'priced',
      costNanoUsd: 0,
    });
  });
});

describe('unitPrices and listModels', () => {
  const pricer = createPricer();

  it('returns the catalog unit prices as decimal strings', () => {
    expect(pricer.unitPrices({ provider: 'anthropic', model: 'claude-sonnet-4-20250514', at: AT })).toEqual({
      providerId: 'anthropic',
      modelId: 'claude-sonnet-4-0',
      inputMtok: '3',
      outputMtok: '15',
      cacheReadMtok: '0.3',
      cacheWriteMtok: '3.75',
    });
    expect(pricer.unitPrices({ provider: 'openai', model: 'nope' })).toBeUndefined();
  });

  it('lists every token-priced model of a provider once', () => {
    const list = pricer.listModels('openai', AT);
    const ids = list.map((m) => m.modelId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(list.find((m) => m.modelId === 'gpt-4o-mini')).toEqual({
      providerId: 'openai',
      modelId: 'gpt-4o-mini',
      inputMtok: '0.15',
      outputMtok: '0.6',
      cacheReadMtok: '0.075',
    });
    expect(ids).not.toContain('text-embedding-3-small'); // no output price
    expect(pricer.listModels('acme-llm')).toEqual([]);
  });
});

describe('model references', () => {
  const u = tokens({ inputTokens: 1000, outputTokens: 1000 });

  it('uses a known provider prefix when the provider itself is a gateway the catalog lacks', () => {
    // claude-3-5-haiku-latest: 1000 * 800 + 1000 * 4000 = 4,800,000
    expect(
      priceUsage(u, { provider: 'litellm', model: 'anthropic/claude-3-5-haiku-latest', at: AT }),
    ).toMatchObject({
      costNanoUsd: 4_800_000,
      providerId: 'anthropic',
    });
  });

  it('matches case-insensitively and memoises without changing the answer', () => {
    const pricer = createPricer();
    const ref = { provider: 'OpenAI', model: ' GPT-4o ', at: AT };
    // 1000 * 2500 + 1000 * 10000 = 12,500,000
    const first = pricer.priceUsage(u, ref);
    expect(first).toMatchObject({ costNanoUsd: 12_500_000, modelId: 'gpt-4o' });
    expect(pricer.priceUsage(u, ref)).toEqual(first);
  });

  it('keeps answering correctly after the memo map evicts (bounded at 4,096 entries)', () => {
    const pricer = createPricer();
    const ref = { provider: 'openai', model: 'gpt-4o', at: AT };
    expect(pricer.priceUsage(u, ref)).toMatchObject({ costNanoUsd: 12_500_000 });
    for (let i = 0; i < 5000; i++) {
      expect(pricer.priceUsage(u, { provider: 'openai', model: `made-up-${i}` })).toEqual({
        status: 'unpriced',
        reason: 'unknown_model',
      });
    }
    expect(pricer.priceUsage(u, ref)).toMatchObject({ costNanoUsd: 12_500_000 });
  });
  it('prices each call by its own provider and model when consecutive calls alternate', () => {
    const pricer = createPricer();
    const calls: [provider: string, model: string, nano: number | null][] = [
      ['openai', 'gpt-4o', 12_500_000], // 2.5 + 10 $/MTok
      ['openai', 'gpt-4o-mini', 750_000], // 0.15 + 0.6
      ['openai', 'gpt-4o-mini', 750_000],
      ['anthropic', 'gpt-4o-mini', null], // same model name, another provider: not priced
      ['openai', 'gpt-4o', 12_500_000],
      ['openai', 'no-such-model', null],
      ['openai', 'gpt-4o', 12_500_000],
    ];
    for (const [provider, model, nano] of calls) {
      expect(pricer.costNanoUsd(u, { provider, model, at: AT }), `${provider}/${model}`).toBe(nano);
    }
  });
});
