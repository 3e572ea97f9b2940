import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireApiToken } from '../src/api/auth.js';
import { createUsageApi } from '../src/api/usageApi.js';
import { type Budget, loadBudgetsFile, parseBudgets } from '../src/budgets/budgetFile.js';
import { budgetApplies, budgetStatus } from '../src/budgets/budgetSpend.js';
import { registerBudgetGauges } from '../src/budgets/gauges.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
import { addKnownTraffic, MILLI_USD, USD } from './support/ledgerFixture.js';
import { type LoopbackServer, serveOnLoopback } from './support/loopbackServer.js';

const NOW = Date.parse('2026-09-15T10:30:00Z');
const BUDGETS_YAML = `budgets:
  - name: total-month
    period: month
    limit_usd: 10
  - name: openai-day
    scope: { provider: openai }
    period: day
    limit_usd: "2.50"
  - name: search-hour
    scope: { feature: search }
    period: hour
    limit_usd: 1
  - name: per-user-day
    scope: { user: "*" }
    period: day
    limit_usd: 1.5
`;

describe.each(LEDGER_BACKENDS)('budgets (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  let dir: string;
  let budgets: Budget[];
  let server: LoopbackServer;
  let base: string;
  let db: LedgerStore;
  const registry = new Registry();

  beforeAll(async () => {
    db = await ledgers.open();
    dir = mkdtempSync(join(tmpdir(), 'spendline-budget-'));
    writeFileSync(join(dir, 'budgets.yaml'), BUDGETS_YAML);
    const loaded = loadBudgetsFile(join(dir, 'budgets.yaml'));
    if (!loaded.ok) throw new Error(loaded.reason);
    budgets = loaded.budgets;
    await addKnownTraffic(db, [
      { at: '2026-08-31T23:59:59Z', provider: 'openai', user: 'alice', costNano: 50 * USD }, // last month
      { at: '2026-09-01T00:00:00Z', provider: 'openai', user: 'alice', costNano: 5 * USD },
      { at: '2026-09-15T02:00:00Z', provider: 'openai', feature: 'answer', user: 'alice', costNano: 1 * USD },
      {
        at: '2026-09-15T10:05:00Z',
        provider: 'openai',
        feature: 'search',
        user: 'alice',
        costNano: 600 * MILLI_USD,
      },
      {
        at: '2026-09-15T09:59:59Z',
        provider: 'anthropic',
        feature: 'search',
        user: 'bob',
        costNano: 700 * MILLI_USD,
      },
    ]);
    registerBudgetGauges(registry, db, budgets, () => NOW);
    const app = express();
    app.use(
      '/api',
      requireApiToken({ token: undefined, loopbackOnly: true }),
      createUsageApi(db, () => NOW, { budgets }),
    );
    server = await serveOnLoopback(app);
    base = `${server.url}/api`;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const check = async (query: string) =>
    (await (await fetch(`${base}/budgets/check?${query}`)).json()) as {
      status: string;
      remaining_usd: string | null;
      budgets: { budget: string; spent_usd: string; remaining_usd: string; status: string }[];
    };
  const gauge = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values.map((v) => [
      v.labels.budget,
      v.labels.period,
      v.labels.scope,
      v.value,
    ]);

  it('gauges llm_budget_limit_usd and llm_budget_spent_usd for the current UTC hour/day/month', async () => {
    expect(await gauge('llm_budget_limit_usd')).toEqual([
      ['total-month', 'month', 'total', 10],
      ['openai-day', 'day', 'provider', 2.5],
      ['search-hour', 'hour', 'feature', 1],
    ]);
    expect(await gauge('llm_budget_spent_usd')).toEqual([
      ['total-month', 'month', 'total', 7.3],
      ['openai-day', 'day', 'provider', 1.6],
      ['search-hour', 'hour', 'feature', 0.6],
    ]);
  });

  it('/budgets/check answers within with the tightest remaining USD', async () => {
    const bob = await check('user=bob');
    expect([bob.status, bob.remaining_usd]).toEqual(['within', '0.800000000']);
    expect(bob.budgets.map((b) => [b.budget, b.spent_usd, b.remaining_usd])).toEqual([
      ['total-month', '7.300000000', '2.700000000'],
      ['per-user-day', '0.700000000', '0.800000000'],
    ]);
  });

  it('/budgets/check says exceeded once a per-user limit is crossed', async () => {
    const alice = await check('user=alice&feature=search');
    expect([alice.status, alice.remaining_usd]).toEqual(['exceeded', '-0.100000000']);
    expect(alice.budgets.map((b) => [b.budget, b.status])).toEqual([
      ['total-month', 'within'],
      ['search-hour', 'within'],
      ['per-user-day', 'exceeded'],
    ]);
  });

  it('crossing an hourly feature limit flips the answer and the gauge', async () => {
    const before = await check('feature=search');
    expect([before.status, before.remaining_usd]).toEqual(['within', '0.400000000']);
    await addKnownTraffic(db, [
      {
        at: '2026-09-15T10:20:00Z',
        provider: 'groq',
        feature: 'search',
        user: 'carol',
        costNano: 400 * MILLI_USD,
      },
    ]);
    const after = await check('feature=search');
    expect([after.status, after.remaining_usd]).toEqual(['exceeded', '0.000000000']);
    expect((await gauge('llm_budget_spent_usd'))?.[2]).toEqual(['search-hour', 'hour', 'feature', 1]);
  });

  it('a per-task lifetime budget counts the task’s whole spend, across months', async () => {
    const ledger = await ledgers.open();
    await addKnownTraffic(ledger, [
      { at: '2025-01-10T00:00:00Z', provider: 'openai', task: 't-1', costNano: 1 * USD },
      { at: '2026-09-15T10:00:00Z', provider: 'openai', task: 't-1', costNano: 700 * MILLI_USD },
      { at: '2026-09-15T10:00:00Z', provider: 'openai', task: 't-2', costNano: 100 * MILLI_USD },
    ]);
    const parsed = parseBudgets({
      budgets: [{ name: 'task-total', period: 'lifetime', scope: { task: '*' }, limit_usd: '1.5' }],
    });
    if (!parsed.ok) throw new Error(parsed.reason);
    const [b] = parsed.budgets as [Budget];
    expect(budgetApplies(b, { user: 'alice' })).toBe(false);
    const t1 = await budgetStatus(ledger, b, NOW, { task: 't-1' });
    expect([t1.spentNano, t1.remainingNano, t1.exceeded]).toEqual([1_700_000_000n, -200_000_000n, true]);
    const t2 = await budgetStatus(ledger, b, NOW, { task: 't-2' });
    expect([t2.spentNano, t2.exceeded]).toEqual([100_000_000n, false]);
    expect(
      parseBudgets({
        budgets: [{ name: 'a', period: 'day', limit_usd: 1, scope: { task: 'x', user: 'y' } }],
      }),
    ).toEqual({
      ok: false,
      reason:
        'budgets.0.scope: task cannot be combined with user or tenant (per-task spend is kept on its own)',
    });
  });

  it('budget files are validated with a clear reason (JSON or YAML)', async () => {
    expect(parseBudgets({ budgets: [{ name: 'a', period: 'week', limit_usd: 1 }] })).toEqual({
      ok: false,
      reason: 'budgets.0.period: Invalid option: expected one of "hour"|"day"|"month"|"lifetime"',
    });
    expect(parseBudgets({ budgets: [{ name: 'a', period: 'day', limit_usd: '0' }] })).toEqual({
      ok: false,
      reason: 'budgets.0.limit_usd: must be > 0',
    });
    expect(
      parseBudgets({
        budgets: [{ name: 'a', period: 'day', limit_usd: 1, scope: { user: 'x', tenant: 'y' } }],
      }),
    ).toEqual({
      ok: false,
      reason: 'budgets.0.scope: user and tenant cannot be combined (per-user spend is not kept per tenant)',
    });
    writeFileSync(
      join(dir, 'b.json'),
      JSON.stringify({ budgets: [{ name: 'x', period: 'hour', limit_usd: '0.000000001' }] }),
    );
    expect(loadBudgetsFile(join(dir, 'b.json'))).toEqual({
      ok: true,
      budgets: [{ name: 'x', period: 'hour', scope: {}, limitNano: 1 }],
    });
  });
});
