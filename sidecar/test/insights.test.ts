import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPricer, type PriceOverride } from '@spendline/sdk';
import express from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { computeInsights } from '../src/insights/computeInsights.js';
import { insightsExtension } from '../src/insights/extension.js';
import { formatInsights } from '../src/insights/formatInsights.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import {
  emptyMeasures,
  type Measures,
  principalRowArgs,
  UPSERT_PRINCIPAL_SQL,
  UPSERT_USAGE_SQL,
  usageRowArgs,
} from '../src/ledger/rollups.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
import { type LoopbackServer, serveOnLoopback } from './support/loopbackServer.js';

// A fictional provider priced only by overrides, so every figure below is computed by hand.
const PRICES: PriceOverride[] = [
  { provider: 'acme', model: 'acme-large', inputMtok: '10', outputMtok: '30', cacheReadMtok: '1' },
  { provider: 'acme', model: 'acme-small', inputMtok: '1', outputMtok: '3' },
  { provider: 'acme', model: 'acme-embed-1', inputMtok: '0.01', outputMtok: '0' },
  { provider: 'acme', model: 'zeta-tiny', inputMtok: '0.1', outputMtok: '0.1' },
];
const NOW = Date.parse('2026-11-20T12:00:00Z');
const HOUR = (iso: string) => Date.parse(iso) / 1000;

interface Row {
  at: string;
  model: string;
  service: string;
  feature?: string;
  tenant?: string;
  usageType?: string;
  user?: string;
  m: Partial<Measures>;
}

/** Writes the rows into a fresh ledger as the pipeline's rollups would. */
async function fill(db: LedgerStore, rows: Row[]): Promise<LedgerStore> {
  await db.transaction(async (tx) => {
    for (const r of rows) {
      const m = { ...emptyMeasures(), ...r.m };
      const dims = {
        bucketStart: HOUR(r.at),
        bucketSeconds: 3600,
        provider: 'acme',
        model: r.model,
        service: r.service,
        feature: r.feature ?? '',
        usageType: r.usageType ?? 'exact',
      };
      await tx.run(
        UPSERT_USAGE_SQL,
        usageRowArgs({ ...dims, operation: 'chat', tenantId: r.tenant ?? '' }, m),
      );
      if (r.user)
        await tx.run(
          UPSERT_PRINCIPAL_SQL,
          principalRowArgs({ ...dims, principalKind: 'user', principalId: r.user }, m),
        );
    }
  });
  return db;
}

const pricer = createPricer({ overrides: PRICES });

describe.each(LEDGER_BACKENDS)('spendline insights (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  const ledger = async (rows: Row[]) => fill(await ledgers.open(), rows);
  const traffic: Row[] = [
    // 100 small calls on the large model: 100,000 input (avg 1,000) and 20,000 output (avg 200) tokens, 3 failed.
    {
      at: '2026-11-10T09:00:00Z',
      model: 'acme-large',
      service: 'bot',
      feature: 'faq',
      m: {
        requests: 100,
        errors: 3,
        input_tokens: 100_000,
        output_tokens: 20_000,
        cost_nano_usd: 1_600_000_000,
      },
    },
    // 10 large calls: 2,000,000 uncached input tokens, nothing read from cache.
    {
      at: '2026-11-11T09:00:00Z',
      model: 'acme-large',
      service: 'search',
      feature: 'rag',
      m: { requests: 10, input_tokens: 2_000_000, cost_nano_usd: 20_000_000_000 },
    },
    {
      at: '2026-11-12T09:00:00Z',
      model: 'acme-small',
      service: 'stream-svc',
      usageType: 'estimated',
      m: { requests: 5, input_tokens: 5000, output_tokens: 1000, cost_nano_usd: 8_000_000 },
    },
    // 6 calls without usage (a stream without usage, failed calls): 4 succeeded, 2 failed.
    {
      at: '2026-11-12T11:00:00Z',
      model: 'acme-small',
      service: 'stream-svc',
      usageType: 'unknown',
      m: { requests: 6, errors: 2 },
    },
    {
      at: '2026-11-12T10:00:00Z',
      model: 'mystery',
      service: 'stream-svc',
      m: { requests: 4, unpriced_requests: 4, input_tokens: 400, unpriced_tokens: 400 },
    },
  ];

  it('names each change with the hand-computed monthly saving, sorted by saving', async () => {
    const list = await computeInsights(await ledger(traffic), pricer, NOW, { daysBack: 30 });
    expect(list.map((i) => i.kind)).toEqual([
      'prompt_caching',
      'cheaper_model',
      'failed_calls',
      'failed_calls',
      'estimated_usage',
      'unknown_usage',
      'unpriced_model',
      'spend_growth',
      'spend_growth',
    ]);
    const [caching, cheaper] = list;
    // Caching, acme-large: uncached input 100,000 + 2,000,000 = 2,100,000 tokens; half assumed to repeat;
    // (10 − 1) USD/MTok discount: 2.1 × 9 × 0.5 = 9.45 USD over 30 days = 9.45 USD/month.
    expect(caching?.scope).toEqual({ provider: 'acme', model: 'acme-large' });
    expect(caching?.monthlySaving).toEqual({ known: true, nanoUsd: 9_450_000_000n });
    expect(caching?.evidence).toMatchObject({ cache_read_share: 0, uncached_input_tokens: 2_100_000 });
    // Cheaper model for faq: on acme-large 0.1 MTok × 10 + 0.02 MTok × 30 = 1.00 + 0.60 = 1.60 USD;
    // on acme-small 0.1 × 1 + 0.02 × 3 = 0.16 USD; saving 1.44 USD per 30 days. zeta-tiny is another
    // family and acme-embed-1 is not a chat model: neither is proposed.
    expect(cheaper?.scope).toEqual({ provider: 'acme', model: 'acme-large', service: 'bot', feature: 'faq' });
    expect(cheaper?.evidence).toMatchObject({
      candidate: 'acme-small',
      avg_input_tokens: 1000,
      avg_output_tokens: 200,
      cost_usd: '1.600000000',
      candidate_cost_usd: '0.160000000',
    });
    expect(cheaper?.monthlySaving).toEqual({ known: true, nanoUsd: 1_440_000_000n });
    expect(list[2]).toMatchObject({
      scope: { model: 'acme-large', service: 'bot' },
      evidence: { failed_calls: 3, requests: 100 },
      monthlySaving: { known: false },
    });
    // Where to look first is on every install, the laptop's included (it has no OpenSearch).
    expect(list[2]?.change).toContain('(errors by type on the status page, error.type on the spans,');
    expect(list[3]).toMatchObject({
      scope: { model: 'acme-small', service: 'stream-svc' },
      evidence: { failed_calls: 2, requests: 6 },
    });
    expect(list[4]).toMatchObject({
      scope: { model: 'acme-small', service: 'stream-svc' },
      evidence: { estimated_requests: 5 },
    });
    // The 4 successful calls without usage are a data gap; the 2 failed ones are expected.
    expect(list[5]).toMatchObject({
      scope: { model: 'acme-small', service: 'stream-svc' },
      evidence: { unknown_usage_requests: 4, failed_without_usage: 2 },
      monthlySaving: { known: false },
    });
    expect(list[6]).toMatchObject({ scope: { model: 'mystery' }, evidence: { unpriced_requests: 4 } });
    // Growth against the previous 30 days (nothing then): faq +1.60, rag +20.00.
    expect(list.slice(7).map((i) => [i.scope.feature, i.evidence.increase_usd, i.evidence.growth])).toEqual([
      ['faq', '1.600000000', 'new'],
      ['rag', '20.000000000', 'new'],
    ]);
  });

  it('scales a shorter window to 30 days and is deterministic', async () => {
    const db = await ledger(traffic);
    const a = await computeInsights(db, pricer, NOW, { daysBack: 15 });
    expect(a.find((i) => i.kind === 'cheaper_model')?.monthlySaving).toEqual({
      known: true,
      nanoUsd: 2_880_000_000n,
    });
    expect(await computeInsights(db, pricer, NOW, { daysBack: 15 })).toEqual(a);
  });

  it('stays silent when calls are large, caching is already used, or the window holds nothing', async () => {
    const db = await ledger([
      // Average input 5,000 tokens: not "small calls". Cache-read share 60 %: caching is in use.
      {
        at: '2026-11-10T09:00:00Z',
        model: 'acme-large',
        service: 'bot',
        feature: 'faq',
        m: {
          requests: 400,
          input_tokens: 800_000,
          cache_read_tokens: 1_200_000,
          output_tokens: 40_000,
          cost_nano_usd: 10_000_000_000,
        },
      },
      // Outside the window (older than 60 days): no growth either.
      {
        at: '2026-08-01T09:00:00Z',
        model: 'acme-large',
        service: 'old',
        m: { requests: 100, input_tokens: 100_000, cost_nano_usd: 1_000_000_000 },
      },
    ]);
    const kinds = (await computeInsights(db, pricer, NOW, { daysBack: 30, growthMinIncreaseUsd: 100 })).map(
      (i) => i.kind,
    );
    expect(kinds).toEqual([]);
    expect(await computeInsights(await ledgers.open(), pricer, NOW)).toEqual([]);
  });

  it('flags days beyond median + k·MAD and no day when spend is steady', async () => {
    const days = (extra: number) =>
      Array.from({ length: 10 }, (_, i) => ({
        at: `2026-11-${String(10 + i).padStart(2, '0')}T08:00:00Z`,
        model: 'acme-small',
        service: 'bot',
        m: { requests: 1, input_tokens: 1, cost_nano_usd: i === 4 ? extra : 1_000_000_000 },
      }));
    // Ten days at 1 USD, one at 5 USD: median 1, MAD 0, threshold 1 + 3·0 = 1 → only 2026-11-14 spikes.
    const spikes = await computeInsights(await ledger(days(5_000_000_000)), pricer, NOW, {
      growthMinIncreaseUsd: 1000,
    });
    expect(spikes.map((i) => [i.kind, i.scope.day, i.evidence.threshold_usd])).toEqual([
      ['spend_spike_day', '2026-11-14', '1.000000000'],
    ]);
    expect(
      await computeInsights(await ledger(days(1_000_000_000)), pricer, NOW, { growthMinIncreaseUsd: 1000 }),
    ).toEqual([]);
  });

  it('keeps money exact past 2^53 nano-USD in growth figures', async () => {
    // 5,000,000.000000001 + 5,000,000.000000002 USD on one day: 10,000,000.000000003 USD, an odd
    // nano-USD count past 2^53 that a float sum cannot hold.
    const at = (hour: number, cost: number): Row => ({
      at: `2026-11-18T0${hour}:00:00Z`,
      model: 'acme-small',
      service: 'bot',
      feature: 'whale',
      m: { requests: 1, input_tokens: 1, cost_nano_usd: cost },
    });
    const db = await ledger([at(8, 5_000_000_000_000_001), at(9, 5_000_000_000_000_002)]);
    const growth = (await computeInsights(db, pricer, NOW)).find((i) => i.kind === 'spend_growth');
    expect(growth?.evidence).toMatchObject({
      cost_usd: '10000000.000000003',
      increase_usd: '10000000.000000003',
      growth: 'new',
    });
  });

  it('formats as table, markdown and json with exact money', async () => {
    const list = await computeInsights(await ledger(traffic), pricer, NOW);
    const json = JSON.parse(formatInsights(list, 'json', 30)) as {
      insights: { kind: string; monthly_saving_usd: string }[];
    };
    expect(json.insights[0]).toMatchObject({ kind: 'prompt_caching', monthly_saving_usd: '9.450000000' });
    expect(json.insights[2]?.monthly_saving_usd).toBe('unknown');
    expect(formatInsights(list, 'table', 30)).toContain('saving:   $9.45/month');
    expect(formatInsights(list, 'markdown', 30)).toContain(
      '| 2 | cheaper_model | provider=acme model=acme-large service=bot feature=faq | $1.44/month |',
    );
  });
});

describe.each(LEDGER_BACKENDS)('GET /api/insights (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  let server: LoopbackServer | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers the insights as JSON and 400 for bad parameters', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-insights-'));
    const pricesFile = join(dir, 'prices.json');
    writeFileSync(pricesFile, JSON.stringify({ prices: PRICES }));
    const api = express.Router();
    await insightsExtension.start({
      db: await fill(await ledgers.open(), traffic()),
      registry: new Registry(),
      api,
      config: { stateDir: dir, billingGlobs: [], budgetsFile: undefined, pricesFile },
      now: () => NOW,
    });
    const app = express();
    app.use('/api', api);
    server = await serveOnLoopback(app);
    const base = `${server.url}/api/insights`;
    const ok = await fetch(`${base}?days_back=30`);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as {
      days_back: number;
      insights: { kind: string; monthly_saving_usd: string }[];
    };
    expect(body.days_back).toBe(30);
    expect(body.insights.slice(0, 2)).toMatchObject([
      { kind: 'prompt_caching', monthly_saving_usd: '9.450000000' },
      { kind: 'cheaper_model', monthly_saving_usd: '1.440000000' },
    ]);
    expect((await fetch(`${base}?days_back=0`)).status).toBe(400);
    expect((await fetch(`${base}?days=3`)).status).toBe(400);
  });

  function traffic(): Row[] {
    return [
      {
        at: '2026-11-10T09:00:00Z',
        model: 'acme-large',
        service: 'bot',
        feature: 'faq',
        m: { requests: 100, input_tokens: 100_000, output_tokens: 20_000, cost_nano_usd: 1_600_000_000 },
      },
      {
        at: '2026-11-11T09:00:00Z',
        model: 'acme-large',
        service: 'search',
        feature: 'rag',
        m: { requests: 10, input_tokens: 2_000_000, cost_nano_usd: 20_000_000_000 },
      },
    ];
  }
});

describe.each(LEDGER_BACKENDS)('spendline insights command (%s)', (kind) => {
  const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('prints the insights of the ledger named by --state-dir, or by --ledger URL', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-insights-cli-'));
    const pricesFile = join(dir, 'prices.json');
    writeFileSync(pricesFile, JSON.stringify({ prices: PRICES }));
    const url = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    const db = await openLedgerStore({ url, stateDir: dir });
    try {
      await fill(db, [
        {
          at: '2026-11-10T09:00:00Z',
          model: 'acme-large',
          service: 'bot',
          feature: 'faq',
          m: { requests: 100, input_tokens: 100_000, output_tokens: 20_000, cost_nano_usd: 1_600_000_000 },
        },
      ]);
    } finally {
      await db.close();
    }
    // The command's clock is now: the traffic is dated within the last 30 days.
    const days = Math.ceil((Date.now() - Date.parse('2026-11-10T00:00:00Z')) / 86_400_000) + 1;
    const where = url === undefined ? ['--state-dir', dir] : ['--ledger', url];
    const r = spawnSync(
      process.execPath,
      [CLI, 'insights', ...where, '--prices', pricesFile, '--format', 'json', '--days-back', String(days)],
      { encoding: 'utf8', timeout: 30_000, env: { ...process.env, SPENDLINE_LEDGER_URL: '' } },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const body = JSON.parse(r.stdout) as { insights: { kind: string; scope: Record<string, string> }[] };
    expect(body.insights.map((i) => i.kind)).toContain('cheaper_model');
    expect(body.insights.find((i) => i.kind === 'spend_growth')?.scope).toEqual({ feature: 'faq' });
  });
});

describe('spendline insights command: a ledger it cannot open', () => {
  const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'insights', ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, SPENDLINE_LEDGER_URL: '' },
    });

  it('says why in one line (never the password), like report: 2 for a bad --ledger, 1 when it cannot open', () => {
    const down = run('--ledger', 'postgres://spendline:secret-SYNTHETIC@127.0.0.1:1/ledger');
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(
      /^spendline: cannot open ledger postgres:\/\/spendline:\*\*\*@127\.0\.0\.1:1\/ledger: .*ECONNREFUSED.*\n$/,
    );
    expect(down.stderr).not.toContain('secret-SYNTHETIC');
    const wrong = run('--ledger', 'mysql://db/ledger');
    expect([wrong.status, wrong.stderr]).toEqual([
      2,
      'spendline: --ledger: the ledger URL must be postgres:// or postgresql:// (got mysql:); without one the ledger is SQLite in the state directory\n',
    ]);
    const missing = run('--state-dir', '/nonexistent/spendline-state');
    expect([missing.status, missing.stderr]).toEqual([
      1,
      'spendline: no ledger at /nonexistent/spendline-state/ledger.sqlite (is --state-dir right? the sidecar creates it; or give --ledger postgres://…)\n',
    ]);
  });
});
