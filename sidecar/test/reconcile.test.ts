import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { importBillingFile } from '../src/billing/importBillingFile.js';
import { run as reconcileCommand } from '../src/commands/reconcile.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { buildReconciliationReport, reportToJson, reportToMarkdown } from '../src/reconcile/dailyReport.js';
import { registerReconciliationGauges } from '../src/reconcile/gauges.js';
import { lastDays, reconcileDays } from '../src/reconcile/reconcileDays.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
import { addKnownTraffic, MILLI_USD, USD } from './support/ledgerFixture.js';

const NOW = Date.parse('2026-09-03T12:00:00Z');
let dir: string;
let db: LedgerStore;

async function bill(lines: { date: string; provider: string; cost: string }[]) {
  const path = join(dir, `bill-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(
    path,
    lines.map((l) => JSON.stringify({ ...l, cost_usd: l.cost, source: 'invoice' })).join('\n'),
  );
  const r = await importBillingFile(db, path);
  if (!r.ok) throw new Error('fixture bill did not import');
}

describe.each(LEDGER_BACKENDS)('reconciliation (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-reconcile-'));
    db = await ledgers.open();
    await addKnownTraffic(db, [
      // One second apart across midnight: each call lands on its own UTC day.
      { at: '2026-09-01T23:59:59Z', provider: 'openai', model: 'gpt-4o', service: 'chat', costNano: 1 * USD },
      { at: '2026-09-02T00:00:00Z', provider: 'openai', model: 'gpt-4o', service: 'chat', costNano: 2 * USD },
      {
        at: '2026-09-01T10:00:00Z',
        provider: 'openai',
        model: 'gpt-4o-mini',
        service: 'search',
        usageType: 'estimated',
        costNano: 500 * MILLI_USD,
      },
      { at: '2026-09-01T12:00:00Z', provider: 'anthropic', model: 'claude-sonnet-4-5', costNano: 3 * USD },
      {
        at: '2026-09-01T12:30:00Z',
        provider: 'anthropic',
        model: 'claude-new',
        requests: 2,
        unpriced: true,
        inputTokens: 100,
      },
    ]);
    await bill([
      { date: '2026-09-01', provider: 'openai', cost: '1.6' },
      { date: '2026-09-02', provider: 'openai', cost: '2.04' },
      { date: '2026-09-01', provider: 'anthropic', cost: '3.00' },
    ]);
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('reconciliation per provider per UTC day', () => {
    it('splits tracked exact/estimated by each record’s own UTC day and computes untracked and share', async () => {
      const days = await reconcileDays(db, lastDays(NOW, 3), 5);
      expect(days).toEqual([
        {
          day: '2026-09-01',
          provider: 'anthropic',
          trackedExactNano: BigInt(3 * USD),
          trackedEstimatedNano: BigInt(0),
          trackedNano: BigInt(3 * USD),
          unpricedRequests: 2,
          billedNano: BigInt(3 * USD),
          billingSource: 'invoice',
          untrackedNano: BigInt(0),
          untrackedShare: 0,
          trackedTokens: 100,
          billedTokens: null,
          status: 'within_tolerance',
        },
        {
          day: '2026-09-01',
          provider: 'openai',
          trackedExactNano: BigInt(1 * USD),
          trackedEstimatedNano: BigInt(500 * MILLI_USD),
          trackedNano: BigInt(1500 * MILLI_USD),
          unpricedRequests: 0,
          billedNano: BigInt(1600 * MILLI_USD),
          billingSource: 'invoice',
          untrackedNano: BigInt(100 * MILLI_USD),
          untrackedShare: 0.0625,
          trackedTokens: 0,
          billedTokens: null,
          status: 'beyond_tolerance',
        },
        {
          day: '2026-09-02',
          provider: 'openai',
          trackedExactNano: BigInt(2 * USD),
          trackedEstimatedNano: BigInt(0),
          trackedNano: BigInt(2 * USD),
          unpricedRequests: 0,
          billedNano: BigInt(2040 * MILLI_USD),
          billingSource: 'invoice',
          untrackedNano: BigInt(40 * MILLI_USD),
          untrackedShare: 40 / 2040,
          trackedTokens: 0,
          billedTokens: null,
          status: 'within_tolerance',
        },
      ]);
    });

    it('a late-arriving record for a past day closes that day’s gap', async () => {
      await addKnownTraffic(db, [
        { at: '2026-09-01T22:00:00Z', provider: 'openai', model: 'gpt-4o', costNano: 100 * MILLI_USD },
      ]);
      const day1 = (await reconcileDays(db, lastDays(NOW, 3), 5)).find(
        (d) => d.provider === 'openai' && d.day === '2026-09-01',
      );
      expect([day1?.trackedNano, day1?.untrackedNano, day1?.status]).toEqual([
        BigInt(1600 * MILLI_USD),
        0n,
        'within_tolerance',
      ]);
    });

    it('tracked spend with no export yet is not_billed_yet; tracked spend against a $0 bill is beyond tolerance', async () => {
      await addKnownTraffic(db, [
        { at: '2026-09-03T01:00:00Z', provider: 'openai', costNano: 7 },
        { at: '2026-09-03T01:00:00Z', provider: 'aws.bedrock', costNano: 9 },
      ]);
      await bill([{ date: '2026-09-03', provider: 'aws.bedrock', cost: '0' }]);
      const today = await reconcileDays(db, lastDays(NOW, 1), 5);
      expect(today.map((d) => [d.provider, d.status, d.untrackedNano, d.untrackedShare])).toEqual([
        ['aws.bedrock', 'beyond_tolerance', -9n, null],
        ['openai', 'not_billed_yet', null, null],
      ]);
    });

    it('flags days beyond tolerance with their top models and services by tracked spend', async () => {
      const report = await buildReconciliationReport(db, lastDays(NOW, 3), 5);
      expect(report.flagged.map((f) => [f.day, f.provider, f.topModels, f.topServices])).toEqual([
        [
          '2026-09-01',
          'openai',
          [
            { name: 'gpt-4o', trackedNano: BigInt(1 * USD) },
            { name: 'gpt-4o-mini', trackedNano: BigInt(500 * MILLI_USD) },
          ],
          [
            { name: 'chat', trackedNano: BigInt(1 * USD) },
            { name: 'search', trackedNano: BigInt(500 * MILLI_USD) },
          ],
        ],
      ]);
      // A looser tolerance flags nothing.
      expect((await buildReconciliationReport(db, lastDays(NOW, 3), 10)).flagged).toEqual([]);
    });

    it('exposes llm_tracked/billed/untracked_cost_usd {provider, day} read from the ledger at scrape time', async () => {
      const registry = new Registry();
      registerReconciliationGauges(registry, db, () => NOW, 35);
      const values = async (name: string) =>
        (await registry.getSingleMetric(name)?.get())?.values.map((v) => [
          v.labels.provider,
          v.labels.day,
          v.value,
        ]);
      expect(await values('llm_tracked_cost_usd')).toEqual([
        ['anthropic', '2026-09-01', 3],
        ['openai', '2026-09-01', 1.5],
        ['openai', '2026-09-02', 2],
      ]);
      expect(await values('llm_billed_cost_usd')).toEqual([
        ['anthropic', '2026-09-01', 3],
        ['openai', '2026-09-01', 1.6],
        ['openai', '2026-09-02', 2.04],
      ]);
      expect(await values('llm_untracked_cost_usd')).toEqual([
        ['anthropic', '2026-09-01', 0],
        ['openai', '2026-09-01', 0.1],
        ['openai', '2026-09-02', 0.04],
      ]);
      // A shared (PostgreSQL) ledger's figures are the fleet's on every sidecar: marked to be taken once.
      expect((await registry.getSingleMetric('llm_tracked_cost_usd')?.get())?.values[0]?.labels).toEqual(
        kind === 'postgres'
          ? { provider: 'anthropic', day: '2026-09-01', ledger: 'shared' }
          : { provider: 'anthropic', day: '2026-09-01' },
      );
    });
    it('a ledger that cannot be read (closed, PostgreSQL down) leaves the gauges out of that scrape, not /metrics failing', async () => {
      const registry = new Registry();
      const broken = await ledgers.open();
      await addKnownTraffic(broken, [{ at: '2026-09-02T09:00:00Z', provider: 'openai', costNano: 1 * USD }]);
      registerReconciliationGauges(registry, broken, () => NOW, 35);
      expect(await registry.metrics()).toMatch(
        /^llm_tracked_cost_usd\{provider="openai",day="2026-09-02"(,ledger="shared")?\} 1$/m,
      );
      await broken.close();
      new Counter({
        name: 'still_counted_total',
        help: 'a counter beside the gauges',
        registers: [registry],
      }).inc();
      const text = await registry.metrics();
      expect(text).toMatch(/^still_counted_total 1$/m);
      expect(text).not.toMatch(/^llm_tracked_cost_usd\{/m);
    });
  });

  describe('token reconciliation', () => {
    it('puts billed vs tracked tokens next to dollars where the export carries token totals', async () => {
      await addKnownTraffic(db, [
        {
          at: '2026-09-02T09:00:00Z',
          provider: 'mistral',
          model: 'mistral-large',
          costNano: 1 * USD,
          inputTokens: 9_000,
          outputTokens: 1_000,
        },
      ]);
      const path = join(dir, 'tokens.jsonl');
      writeFileSync(
        path,
        [
          {
            date: '2026-09-02',
            provider: 'mistral',
            cost_usd: '1.25',
            tokens_total: 12_500,
            source: 'invoice',
          },
          // A day billed with an explicit 0 tokens: reported, not "unknown".
          { date: '2026-09-01', provider: 'mistral', cost_usd: '0', tokens_total: 0, source: 'invoice' },
        ]
          .map((l) => JSON.stringify(l))
          .join('\n'),
      );
      expect(await importBillingFile(db, path)).toMatchObject({ ok: true, unchanged: false });
      const days = await reconcileDays(db, lastDays(NOW, 3), 5);
      const pick = (provider: string, day: string) =>
        days.find((d) => d.provider === provider && d.day === day);
      expect(pick('mistral', '2026-09-02')).toMatchObject({ trackedTokens: 10_000, billedTokens: 12_500 });
      expect(pick('mistral', '2026-09-01')).toMatchObject({ trackedTokens: 0, billedTokens: 0 });
      // The export without token totals: billed tokens unknown (null), never 0.
      expect(pick('openai', '2026-09-01')).toMatchObject({ billedTokens: null });

      const registry = new Registry();
      registerReconciliationGauges(registry, db, () => NOW, 35);
      const values = async (name: string) =>
        (await registry.getSingleMetric(name)?.get())?.values
          .filter((v) => v.labels.provider === 'mistral' || v.labels.provider === 'openai')
          .map((v) => [v.labels.provider, v.labels.day, v.value]);
      expect(await values('llm_billed_tokens')).toEqual([
        ['mistral', '2026-09-01', 0],
        ['mistral', '2026-09-02', 12_500],
      ]);
      expect(await values('llm_tracked_tokens')).toEqual([
        ['mistral', '2026-09-01', 0],
        ['openai', '2026-09-01', 0],
        ['mistral', '2026-09-02', 10_000],
        ['openai', '2026-09-02', 0],
      ]);
      const report = await buildReconciliationReport(db, lastDays(NOW, 3), 5);
      const json = reportToJson(report).days.find((d) => d.provider === 'mistral' && d.day === '2026-09-02');
      expect(json).toMatchObject({
        billed_usd: '1.250000000',
        tracked_tokens: 10_000,
        billed_tokens: 12_500,
      });
      expect(reportToMarkdown(report)).toContain('| 10000 | 12500 |');
    });
  });

  describe('spendline reconcile', () => {
    it('writes the Markdown and JSON daily report and exits 3 when a day is beyond tolerance', async () => {
      const stateDir = join(dir, 'state');
      const url = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
      const ledger = await openLedgerStore({ url, stateDir });
      const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
      await addKnownTraffic(ledger, [
        {
          at: `${day(1)}T08:00:00Z`,
          provider: 'openai',
          model: 'gpt-4o',
          service: 'chat',
          costNano: 8 * USD,
        },
      ]);
      const billFile = join(dir, 'cli.jsonl');
      writeFileSync(
        billFile,
        JSON.stringify({ date: day(1), provider: 'openai', cost_usd: 10, source: 'invoice' }),
      );
      await importBillingFile(ledger, billFile);
      await ledger.close();

      const out: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
      let code: number;
      try {
        code = await reconcileCommand([
          '--days-back',
          '7',
          ...(url === undefined ? ['--state-dir', stateDir] : ['--ledger', url]),
          '--write-report',
          join(dir, 'reports'),
          '--tolerance',
          '5',
        ]);
      } finally {
        spy.mockRestore();
      }
      expect(code).toBe(3);
      const base = join(dir, 'reports', `reconciliation-${day(0)}`);
      expect(existsSync(`${base}.md`)).toBe(true);
      const json = JSON.parse(readFileSync(`${base}.json`, 'utf8'));
      expect(json.flagged).toEqual([
        {
          day: day(1),
          provider: 'openai',
          tracked_usd: '8.000000000',
          tracked_exact_usd: '8.000000000',
          tracked_estimated_usd: '0.000000000',
          unpriced_requests: 0,
          billed_usd: '10.000000000',
          billing_source: 'invoice',
          untracked_usd: '2.000000000',
          untracked_share: 0.2,
          tracked_tokens: 0,
          billed_tokens: null,
          status: 'beyond_tolerance',
          top_models: [{ model: 'gpt-4o', tracked_usd: '8.000000000' }],
          top_services: [{ service: 'chat', tracked_usd: '8.000000000' }],
        },
      ]);
      const md = readFileSync(`${base}.md`, 'utf8');
      expect(md).toContain(`### ${day(1)} openai: untracked $2.00 (20.0% of $10.00 billed)`);
      expect(md).toContain('- Top models by tracked spend: gpt-4o $8.00');
      expect(out.join('')).toContain('| **beyond tolerance** |');
    });
  });
});
