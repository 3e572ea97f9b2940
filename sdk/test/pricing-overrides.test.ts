import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TokenCounts } from '../src/contract.js';
import { createPricer, loadPriceOverrides, type UsageToPrice } from '../src/pricing/index.js';

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
const dir = mkdtempSync(join(tmpdir(), 'spendline-pricing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('price overrides from objects', () => {
  it('wins over the catalog for every snapshot the catalog maps to the model, keeping unset catalog rates', () => {
    // negotiated gpt-4o: input 2.0, output 8.0; cache_read stays catalog 1.25
    const pricer = createPricer({
      overrides: [{ provider: 'openai', model: 'gpt-4o', inputMtok: '2.0', outputMtok: '8' }],
    });
    // 900 * 2000 = 1,800,000; 100 * 1250 = 125,000; 1000 * 8000 = 8,000,000 -> 9,925,000
    const u = tokens({ inputTokens: 1000, cacheReadInputTokens: 100, outputTokens: 1000 });
    expect(pricer.priceUsage(u, { provider: 'openai', model: 'gpt-4o-2024-11-20', at: AT })).toMatchObject({
      status: 'priced',
      costNanoUsd: 9_925_000,
      source: 'override',
      modelId: 'gpt-4o',
    });
    // other models keep catalog prices: gpt-4o-mini input 0.15, cache_read 0.075, output 0.6
    // 900 * 150 = 135,000; 100 * 75 = 7,500; 1000 * 600 = 600,000 -> 742,500
    expect(pricer.priceUsage(u, { provider: 'openai', model: 'gpt-4o-mini', at: AT })).toMatchObject({
      costNanoUsd: 742_500,
      source: 'catalog',
    });
  });

  it('prices a self-hosted model the catalog lacks, with its own reasoning rate, under a custom provider', () => {
    const pricer = createPricer({
      overrides: [
        {
          provider: 'vllm-internal',
          model: 'Llama-3.3-70B',
          inputMtok: '0.4',
          outputMtok: '0.8',
          reasoningMtok: '1.2',
          perRequest: '0.0001',
        },
      ],
    });
    // 1000 * 400 = 400,000; 100 visible * 800 = 80,000; 400 reasoning * 1200 = 480,000; 1 request * 100,000
    const r = pricer.priceUsage(
      tokens({ inputTokens: 1000, outputTokens: 500, reasoningOutputTokens: 400 }),
      {
        provider: 'vllm-internal',
        model: 'llama-3.3-70b',
      },
    );
    expect(r).toEqual({
      status: 'priced',
      costNanoUsd: 1_060_000,
      parts: {
        input: 400_000,
        cache_read: 0,
        cache_write: 0,
        output: 80_000,
        reasoning: 480_000,
        pages: 0,
        requests: 100_000,
      },
      source: 'override',
      providerId: 'vllm-internal',
      modelId: 'Llama-3.3-70B',
    });
    expect(
      pricer.priceUsage(tokens({ inputTokens: 1 }), { provider: 'vllm-internal', model: 'other' }),
    ).toEqual({
      status: 'unpriced',
      reason: 'unknown_model',
    });
    expect(pricer.listModels('vllm-internal')).toEqual([
      {
        providerId: 'vllm-internal',
        modelId: 'Llama-3.3-70B',
        inputMtok: '0.4',
        outputMtok: '0.8',
        reasoningMtok: '1.2',
        perRequest: '0.0001',
      },
    ]);
  });

  it('prices OCR pages and rounds a half nano to even', () => {
    // $0.0015 per page = 1,500,000 nano per page; 7 pages = 10,500,000
    const pricer = createPricer({
      overrides: [
        { provider: 'mistral_ai', model: 'mistral-ocr-latest', perPage: '0.0015' },
        { provider: 'acme', model: 'tiny', inputMtok: '0.0005', outputMtok: '0.0015' },
      ],
    });
    expect(
      pricer.priceUsage(
        { ...tokens({}), ocrPages: 7 },
        { provider: 'mistral_ai', model: 'mistral-ocr-latest', at: AT },
      ),
    ).toMatchObject({
      costNanoUsd: 10_500_000,
      source: 'override',
    });
    // 0.0005 $/MTok = 0.5 nano/token: 1 token -> 0.5 -> 0 (even); 3 tokens -> 1.5 -> 2; 5 -> 2.5 -> 2
    const tiny = { provider: 'acme', model: 'tiny' };
    expect(pricer.priceUsage(tokens({ inputTokens: 1 }), tiny)).toMatchObject({ costNanoUsd: 0 });
    expect(pricer.priceUsage(tokens({ inputTokens: 3 }), tiny)).toMatchObject({ costNanoUsd: 2 });
    expect(pricer.priceUsage(tokens({ inputTokens: 5 }), tiny)).toMatchObject({ costNanoUsd: 2 });
    // 1 in + 3 out: 0.5 + 4.5 = 5.0 exactly, where rounding each part half-even would give 0 + 4 = 4
    expect(pricer.priceUsage(tokens({ inputTokens: 1, outputTokens: 3 }), tiny)).toMatchObject({
      costNanoUsd: 5,
    });
  });

  it('rejects bad override objects at construction with the entry named', () => {
    expect(() =>
      createPricer({ overrides: [{ provider: 'openai', model: 'gpt-4o', inputMtok: 'cheap' }] }),
    ).toThrow('price overrides: prices[0].inputMtok: not a decimal number: "cheap"');
    expect(() => createPricer({ overrides: [{ provider: 'openai', model: '' }] })).toThrow(
      'prices[0].model: required non-empty string',
    );
  });
});

describe('price override files', () => {
  it('loads JSON with snake_case keys', () => {
    const path = file(
      'prices.json',
      JSON.stringify({
        prices: [
          { provider: 'anthropic', model: 'claude-3-5-sonnet', input_mtok: '2.4', cache_read_mtok: 0.24 },
        ],
      }),
    );
    expect(loadPriceOverrides(path)).toEqual({
      ok: true,
      overrides: [
        { provider: 'anthropic', model: 'claude-3-5-sonnet', inputMtok: '2.4', cacheReadMtok: '0.24' },
      ],
    });
    const pricer = createPricer({ overrides: path });
    // input 2.4 (override), cache_read 0.24 (override), cache_write 3.75 and output 15 (catalog)
    // 1000 * 2400 = 2,400,000; 1000 * 240 = 240,000; 1000 * 3750 = 3,750,000; 1000 * 15000 = 15,000,000
    const u = tokens({
      inputTokens: 3000,
      cacheReadInputTokens: 1000,
      cacheCreationInputTokens: 1000,
      outputTokens: 1000,
    });
    expect(
      pricer.priceUsage(u, { provider: 'anthropic', model: 'claude-3-5-sonnet-20241022', at: AT }),
    ).toMatchObject({
      costNanoUsd: 21_390_000,
      source: 'override',
    });
  });

  it('loads YAML with camelCase and numeric prices', () => {
    const path = file(
      'prices.yaml',
      [
        'prices:',
        '  - provider: aws.bedrock',
        '    model: my-finetune',
        '    inputMtok: 1.5',
        '    output_mtok: "6"',
        '',
      ].join('\n'),
    );
    expect(loadPriceOverrides(path)).toEqual({
      ok: true,
      overrides: [{ provider: 'aws.bedrock', model: 'my-finetune', inputMtok: '1.5', outputMtok: '6' }],
    });
    // 2000 * 1500 + 100 * 6000 = 3,600,000
    const pricer = createPricer({ overrides: path });
    expect(
      pricer.priceUsage(tokens({ inputTokens: 2000, outputTokens: 100 }), {
        provider: 'aws',
        model: 'my-finetune',
      }),
    ).toMatchObject({
      costNanoUsd: 3_600_000,
      providerId: 'aws',
    });
  });

  it('explains bad files', () => {
    const cases: [string, string, string][] = [
      ['broken.json', '{"prices": [', 'invalid JSON'],
      ['broken.yaml', 'prices: [\n  - a: b\n', 'invalid YAML'],
      ['noprices.yaml', 'models: []\n', 'expected a top-level "prices" list'],
      ['notlist.json', '{"prices": {"provider": "openai"}}', '"prices" must be a list'],
      [
        'typo.yaml',
        'prices:\n  - provider: openai\n    model: gpt-4o\n    inptu_mtok: 1\n',
        'prices[0]: unknown key "inptu_mtok"',
      ],
      [
        'negative.json',
        '{"prices":[{"provider":"openai","model":"gpt-4o","input_mtok":"-1"}]}',
        'prices[0].input_mtok: negative price -1',
      ],
      ['noprice.json', '{"prices":[{"provider":"openai","model":"gpt-4o"}]}', 'prices[0]: no price given'],
      [
        'noprovider.json',
        '{"prices":[{"model":"gpt-4o","input_mtok":1}]}',
        'prices[0].provider: required non-empty string',
      ],
      [
        'precise.json',
        '{"prices":[{"provider":"a","model":"b","per_page":"0.0000000000000001"}]}',
        'more than 15 decimal places',
      ],
    ];
    for (const [name, text, reason] of cases) {
      const r = loadPriceOverrides(file(name, text));
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.reason, name).toContain(reason);
    }
    const missing = loadPriceOverrides(join(dir, 'absent.yaml'));
    expect(missing).toEqual({
      ok: false,
      reason: `cannot read price overrides ${join(dir, 'absent.yaml')}: ENOENT`,
    });
    expect(() => createPricer({ overrides: join(dir, 'absent.yaml') })).toThrow('ENOENT');
  });
});
