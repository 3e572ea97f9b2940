/**
 * Budgets on a PostgreSQL ledger shared by several sidecars (issue 19): two real counting pipelines,
 * each with its own identity and its own input files, write one ledger; budget checks, budget gauges
 * and reconciliation read the shared rollups and answer for the whole fleet.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { budgetCheckHandler } from '../src/api/budgetCheck.js';
import { parseBudgets } from '../src/budgets/budgetFile.js';
import { budgetStatus } from '../src/budgets/budgetSpend.js';
import { registerBudgetGauges } from '../src/budgets/gauges.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { lastDays, reconcileDays } from '../src/reconcile/reconcileDays.js';
import { freshDatabaseUrl } from './support/ledgerBackends.js';
import { serveOnLoopback } from './support/loopbackServer.js';
import { ledgerTotals, runUntilCaughtUp, tempDir } from './support/sidecarHarness.js';

const NOW = Date.parse('2026-09-15T10:30:00Z');
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A JSONL usage log; the model has no built-in price, so each record costs exactly its `cost_usd`. */
function usageLog(
  path: string,
  records: { id: string; user: string; feature: string; cost: string }[],
): void {
  writeFileSync(
    path,
    records
      .map((r) =>
        JSON.stringify({
          id: r.id,
          ts: '2026-09-15T10:05:00Z',
          provider: 'openai',
          model: 'fleet-test-model',
          user: r.user,
          feature: r.feature,
          usage: { prompt_tokens: 10, completion_tokens: 5 },
          cost_usd: r.cost,
        }),
      )
      .map((l) => `${l}\n`)
      .join(''),
  );
}

describe('budgets on a PostgreSQL ledger shared by two sidecars', () => {
  it('budget checks, budget gauges and reconciliation see the sum of both sidecars’ spend', async () => {
    const t = tempDir('spendline-budget-fleet-');
    cleanups.push(t.cleanup);
    const url = await freshDatabaseUrl();
    for (const side of ['a', 'b']) mkdirSync(join(t.dir, side, 'logs'), { recursive: true });
    // Sidecar a: alice $0.60 (search) + bob $0.30; sidecar b: alice $1.00 (search) + carol $0.25.
    usageLog(join(t.dir, 'a', 'logs', 'app.jsonl'), [
      { id: 'a1', user: 'alice', feature: 'search', cost: '0.25' },
      { id: 'a2', user: 'alice', feature: 'search', cost: '0.35' },
      { id: 'a3', user: 'bob', feature: 'answer', cost: '0.30' },
    ]);
    usageLog(join(t.dir, 'b', 'logs', 'app.jsonl'), [
      { id: 'b1', user: 'alice', feature: 'search', cost: '1.00' },
      { id: 'b2', user: 'carol', feature: 'answer', cost: '0.25' },
    ]);
    await runUntilCaughtUp(join(t.dir, 'a', 'state'), {
      jsonlGlobs: [join(t.dir, 'a', 'logs', '*.jsonl')],
      ledgerUrl: url,
      sidecarId: 'a',
      now: () => NOW,
    });
    await runUntilCaughtUp(join(t.dir, 'b', 'state'), {
      jsonlGlobs: [join(t.dir, 'b', 'logs', '*.jsonl')],
      ledgerUrl: url,
      sidecarId: 'b',
      now: () => NOW,
    });
    expect((await ledgerTotals(join(t.dir, 'a', 'state'), url)).requests).toBe(5);

    const parsed = parseBudgets({
      budgets: [
        { name: 'total-day', period: 'day', limit_usd: '2.20' },
        { name: 'search-hour', period: 'hour', scope: { feature: 'search' }, limit_usd: '1.50' },
        { name: 'per-user-day', period: 'day', scope: { user: '*' }, limit_usd: '1.50' },
      ],
    });
    if (!parsed.ok) throw new Error(parsed.reason);
    const budgets = parsed.budgets;

    // A reader anywhere (no sidecar identity), as the API of either sidecar or a command would be.
    const db = await openLedgerStore({ url, stateDir: join(t.dir, 'reader') });
    cleanups.push(() => db.close());
    const [total] = budgets;
    if (total === undefined) throw new Error('no budget');
    expect((await budgetStatus(db, total, NOW)).spentNano).toBe(2_150_000_000n);

    const app = express();
    app.get(
      '/budgets/check',
      budgetCheckHandler(db, () => NOW, budgets),
    );
    const server = await serveOnLoopback(app);
    cleanups.push(server.close);
    const base = server.url;
    const check = async (query: string) =>
      (await (await fetch(`${base}/budgets/check?${query}`)).json()) as {
        status: string;
        remaining_usd: string | null;
        budgets: { budget: string; spent_usd: string; status: string }[];
      };
    // alice spent $0.60 through sidecar a and $1.00 through sidecar b: $1.60 > her $1.50 a day.
    const alice = await check('user=alice&feature=search');
    expect(alice.budgets.map((b) => [b.budget, b.spent_usd, b.status])).toEqual([
      ['total-day', '2.150000000', 'within'],
      ['search-hour', '1.600000000', 'exceeded'],
      ['per-user-day', '1.600000000', 'exceeded'],
    ]);
    expect([alice.status, alice.remaining_usd]).toEqual(['exceeded', '-0.100000000']);
    const carol = await check('user=carol');
    expect(carol.budgets.map((b) => [b.budget, b.spent_usd])).toEqual([
      ['total-day', '2.150000000'],
      ['per-user-day', '0.250000000'],
    ]);

    const registry = new Registry();
    registerBudgetGauges(registry, db, budgets, () => NOW);
    expect(
      (await registry.getSingleMetric('llm_budget_spent_usd')?.get())?.values.map((v) => [
        v.labels.budget,
        v.labels.ledger,
        v.value,
      ]),
    ).toEqual([
      ['total-day', 'shared', 2.15],
      ['search-hour', 'shared', 1.6],
    ]);

    const [day] = await reconcileDays(db, lastDays(NOW, 1), 5);
    expect([day?.provider, day?.trackedNano, day?.status]).toEqual([
      'openai',
      2_150_000_000n,
      'not_billed_yet',
    ]);
  }, 120_000);
});
