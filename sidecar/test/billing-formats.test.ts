import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importBillingFile } from '../src/billing/importBillingFile.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';

// Synthetic exports in the shapes the providers document (see docs/reconciliation.md, "Sample exports").
const OPENAI_PAGE = JSON.stringify({
  object: 'page',
  data: [
    {
      object: 'bucket',
      start_time: 1788220800,
      end_time: 1788307200,
      results: [
        {
          object: 'organization.costs.result',
          amount: { value: 4.2731, currency: 'usd' },
          line_item: 'gpt-4o-2024-08-06, input',
          project_id: 'proj_SYNTHETIC0001',
          api_key_id: null,
          quantity: 1709240,
          quantity_unit: 'tokens',
        },
        {
          object: 'organization.costs.result',
          amount: { value: 0.48845, currency: 'usd' },
          line_item: 'gpt-4o-2024-08-06, cached input',
          project_id: 'proj_SYNTHETIC0001',
          api_key_id: null,
          quantity: 390760,
          quantity_unit: 'tokens',
        },
        {
          object: 'organization.costs.result',
          amount: { value: '3.12', currency: 'usd' },
          line_item: 'gpt-4o-2024-08-06, output',
          project_id: 'proj_SYNTHETIC0001',
          api_key_id: null,
          quantity: 312000,
          quantity_unit: 'tokens',
        },
      ],
    },
    { object: 'bucket', start_time: 1788307200, end_time: 1788393600, results: [] },
  ],
  has_more: false,
  next_page: null,
});

const anthropicResult = (amount: string, tokenType: string | null, costType = 'tokens') => ({
  currency: 'USD',
  amount,
  workspace_id: 'wrkspc_SYNTHETIC01',
  description: 'SYNTHETIC',
  cost_type: costType,
  context_window: tokenType ? '0-200k' : null,
  model: tokenType ? 'claude-sonnet-4-5-20250929' : null,
  service_tier: tokenType ? 'standard' : null,
  token_type: tokenType,
  inference_geo: null,
});
const ANTHROPIC_REPORT = JSON.stringify({
  data: [
    {
      starting_at: '2026-09-01T00:00:00Z',
      ending_at: '2026-09-02T00:00:00Z',
      results: [
        anthropicResult('311.400000', 'uncached_input_tokens'),
        anthropicResult('180.000000', 'output_tokens'),
        anthropicResult('60.000000', 'cache_read_input_tokens'),
        anthropicResult('75.000000', 'cache_creation.ephemeral_5m_input_tokens'),
        anthropicResult('10.000000', null, 'web_search'),
      ],
    },
  ],
  has_more: false,
  next_page: null,
});

let dir: string;
let db: LedgerStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-billing-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function importText(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const r = await importBillingFile(db, path, 1_800_000_000_000);
  if (!r.ok) throw new Error(r.reason);
  return r;
}

async function importRefused(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const r = await importBillingFile(db, path, 1_800_000_000_000);
  if (r.ok) throw new Error('expected the file to be refused');
  return r;
}

function billed() {
  return db.all(
    'SELECT provider, day, source, cost_nano_usd AS nano, tokens_total AS tokens FROM billing_daily ORDER BY provider, day, source',
  );
}

describe.each(LEDGER_BACKENDS)('billing import: provider cost APIs (exact USD per UTC day) (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  beforeEach(async () => {
    db = await ledgers.open();
  });

  it('OpenAI costs page: dollars as number or string; an empty bucket is a billed $0 day', async () => {
    const r = await importText('costs.json', OPENAI_PAGE);
    expect([r.format, r.accepted]).toEqual(['openai_costs', 3]);
    expect(await billed()).toEqual([
      {
        provider: 'openai',
        day: '2026-09-01',
        source: 'openai.costs_api',
        nano: 7_881_550_000,
        tokens: 2_412_000,
      },
      { provider: 'openai', day: '2026-09-02', source: 'openai.costs_api', nano: 0, tokens: 0 },
    ]);
  });

  it('Anthropic cost report: amount is a decimal string in cents (636.4 cents = $6.364)', async () => {
    const r = await importText('anthropic.json', ANTHROPIC_REPORT);
    expect([r.format, r.accepted]).toEqual(['anthropic_cost_report', 5]);
    expect(await billed()).toEqual([
      {
        provider: 'anthropic',
        day: '2026-09-01',
        source: 'anthropic.cost_report',
        nano: 6_364_000_000,
        tokens: 0,
      },
    ]);
  });

  it('OpenRouter activity: usage in USD per UTC day, BYOK inference (billed upstream) left out', async () => {
    const row = (date: string, usage: number | string, byok = 0) => ({
      date,
      model: 'anthropic/claude-sonnet-4.5',
      provider_name: 'Anthropic',
      usage,
      byok_usage_inference: byok,
      requests: 1,
      prompt_tokens: 1012,
      completion_tokens: 71,
      reasoning_tokens: 0,
    });
    const bad = await importRefused(
      'or-bad.json',
      JSON.stringify(
        { data: [row('2026-09-01', 0.0041), row('2026-09-01', '0.0009', 5), row('2026-09-01', 'n/a')] },
        null,
        2,
      ),
    );
    expect(bad.rejections).toEqual([{ location: 'data[2]', reason: 'usage: not a decimal number: "n/a"' }]);
    expect(await billed()).toEqual([]); // all-or-nothing: the good rows of a refused file are not written either
    const r = await importText(
      'or.json',
      JSON.stringify({ data: [row('2026-09-01', 0.0041), row('2026-09-01', '0.0009', 5)] }, null, 2),
    );
    expect([r.format, r.accepted]).toEqual(['openrouter_activity', 2]);
    expect(await billed()).toEqual([
      {
        provider: 'openrouter',
        day: '2026-09-01',
        source: 'openrouter.activity',
        nano: 5_000_000,
        tokens: 2166,
      },
    ]);
  });

  it('usage reports (tokens, no money) are refused by name instead of recording $0 days', async () => {
    const openaiUsage = JSON.stringify(
      {
        object: 'page',
        data: [
          {
            object: 'bucket',
            start_time: 1788220800,
            end_time: 1788307200,
            results: [
              {
                object: 'organization.usage.completions.result',
                input_tokens: 5,
                output_tokens: 2,
                num_model_requests: 1,
              },
            ],
          },
        ],
      },
      null,
      2,
    );
    const anthropicUsage = JSON.stringify({
      data: [
        {
          starting_at: '2026-09-01T00:00:00Z',
          ending_at: '2026-09-02T00:00:00Z',
          results: [{ uncached_input_tokens: 10, cache_read_input_tokens: 0, output_tokens: 3 }],
        },
      ],
    });
    const refuse = async (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      const r = await importBillingFile(db, path);
      return r.ok ? 'imported' : r.reason;
    };
    expect(await refuse('ou.json', openaiUsage)).toBe(
      'this is an OpenAI usage page (tokens, no cost): import /v1/organization/costs pages instead',
    );
    expect(await refuse('au.json', anthropicUsage)).toBe(
      'this is an Anthropic usage report (tokens, no cost): import /v1/organizations/cost_report pages instead',
    );
    expect(await billed()).toEqual([]);
  });

  it('an unrecognisable file is refused with a reason and writes nothing', async () => {
    const path = join(dir, 'x.csv');
    writeFileSync(path, 'a,b,c\n1,2,3\n');
    expect(await importBillingFile(db, path)).toEqual({
      ok: false,
      path,
      reason: 'unrecognised CSV header: a, b, c…',
    });
    expect(await billed()).toEqual([]);
  });
});
