import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPrometheus, startPrometheus } from '../../test/support/prometheus.js';
import { requireApiToken } from '../src/api/auth.js';
import type { SidecarContext } from '../src/extensions.js';
import { openPgStore } from '../src/ledger/pgStore.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { createReconciliationExtension } from '../src/reconcile/extension.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
import { addKnownTraffic, USD } from './support/ledgerFixture.js';
import { type LoopbackServer, serveOnLoopback } from './support/loopbackServer.js';

const TOKEN = 'ext-token-SYNTHETIC';
const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

describe.each(LEDGER_BACKENDS)('reconciliation extension in a sidecar (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  let dir: string;
  let db: LedgerStore;
  let server: LoopbackServer;
  let base: string;
  let prom: RunningPrometheus | undefined;
  const ext = createReconciliationExtension({ billingPollMs: 200, log: () => undefined });

  function writeBill(cost: string, mtimeSec: number) {
    const path = join(dir, 'bills', 'openai.jsonl');
    writeFileSync(
      path,
      `${JSON.stringify({ date: yesterday, provider: 'openai', cost_usd: cost, source: 'invoice' })}\n`,
    );
    utimesSync(path, mtimeSec, mtimeSec);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-ext-'));
    mkdirSync(join(dir, 'bills'));
    writeBill('12.5', 1_790_000_000);
    writeFileSync(
      join(dir, 'budgets.json'),
      JSON.stringify({
        budgets: [{ name: 'openai-month', scope: { provider: 'openai' }, period: 'month', limit_usd: 100 }],
      }),
    );
    db = await ledgers.open();
    await addKnownTraffic(db, [
      { at: `${yesterday}T12:00:00Z`, provider: 'openai', model: 'gpt-4o', costNano: 10 * USD },
    ]);
    const registry = new Registry();
    const api = express.Router();
    const app = express();
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
    app.use('/api', requireApiToken({ token: TOKEN, loopbackOnly: true }), api);
    server = await serveOnLoopback(app);
    base = server.url;
    const ctx: SidecarContext = {
      db,
      registry,
      api,
      config: {
        stateDir: join(dir, 'state'),
        billingGlobs: [join(dir, 'bills', '*.jsonl')],
        budgetsFile: join(dir, 'budgets.json'),
        pricesFile: undefined,
      },
      now: () => Date.now(),
    };
    await ext.start(ctx);
  });
  afterAll(async () => {
    await ext.stop?.();
    await prom?.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports --billing files at start, serves /api routes behind the token', async () => {
    expect((await fetch(`${base}/api/reconciliation?days=3`)).status).toBe(401);
    const res = await fetch(`${base}/api/reconciliation?days=3`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const body = (await res.json()) as {
      days: { provider: string; billed_usd: string; untracked_usd: string }[];
    };
    expect(body.days.map((d) => [d.provider, d.billed_usd, d.untracked_usd])).toEqual([
      ['openai', '12.500000000', '2.500000000'],
    ]);
  });

  it('a real Prometheus scrapes the reconciliation and budget gauges; a changed export is re-read', async () => {
    prom = await startPrometheus({
      scrapeInterval: '1s',
      scrapeConfigs: [{ job_name: 'sidecar', static_configs: [{ targets: [base.replace('http://', '')] }] }],
    });
    const untracked = `llm_untracked_cost_usd{provider="openai",day="${yesterday}"}`;
    const first = await prom.waitFor(untracked, (s) => s.length === 1, 40_000);
    expect(first[0]?.value[1]).toBe('2.5');
    const budget = await prom.waitFor(
      'llm_budget_spent_usd{budget="openai-month"}',
      (s) => s.length === 1,
      15_000,
    );
    expect(budget[0]?.metric.period).toBe('month');

    writeBill('10', 1_790_000_100);
    const after = await prom.waitFor(untracked, (s) => s[0]?.value[1] === '0', 40_000);
    expect(after[0]?.value[1]).toBe('0');
    const billed = await prom.query(`llm_billed_cost_usd{provider="openai",day="${yesterday}"}`);
    expect(billed[0]?.value[1]).toBe('10');
  }, 150_000);
});

describe('two sidecars sharing a PostgreSQL ledger watch the same --billing glob', () => {
  it('both start at once: each file is imported once, the other sidecar finds it unchanged', async () => {
    const url = await freshDatabaseUrl();
    const d = mkdtempSync(join(tmpdir(), 'spendline-ext-shared-'));
    mkdirSync(join(d, 'bills'));
    const days = Array.from({ length: 90 }, (_, i) =>
      new Date(Date.UTC(2026, 5, 1) + i * 86_400_000).toISOString().slice(0, 10),
    );
    for (const provider of ['openai', 'anthropic', 'mistral'])
      writeFileSync(
        join(d, 'bills', `${provider}.jsonl`),
        days
          .map((day) => JSON.stringify({ date: day, provider, cost_usd: '3.5', source: 'invoice' }))
          .join('\n'),
      );
    const sidecars = await Promise.all(
      ['a', 'b'].map(async (id) => {
        const lines: string[] = [];
        const db = await openPgStore({ url, sidecarId: id });
        const ext = createReconciliationExtension({
          billingPollMs: 3_600_000,
          log: (line) => lines.push(line),
        });
        const ctx: SidecarContext = {
          db,
          registry: new Registry(),
          api: express.Router(),
          config: {
            stateDir: join(d, id),
            billingGlobs: [join(d, 'bills', '*.jsonl')],
            budgetsFile: undefined,
            pricesFile: undefined,
          },
          now: () => Date.now(),
        };
        return { db, ext, ctx, lines };
      }),
    );
    try {
      await Promise.all(sidecars.map((s) => s.ext.start(s.ctx)));
      const billingLines = sidecars.flatMap((s) => s.lines.filter((l) => l.startsWith('billing: ')));
      // Each file: imported by one sidecar; the other either skipped it (already imported, same
      // size and mtime) or imported it after the first committed and found it unchanged.
      for (const provider of ['openai', 'anthropic', 'mistral']) {
        const mine = billingLines.filter((l) => l.includes(`${provider}.jsonl:`));
        expect(
          mine.filter((l) => !l.endsWith('(unchanged)')),
          provider,
        ).toHaveLength(1);
        expect(mine.length, provider).toBeLessThanOrEqual(2);
      }
      const db = sidecars[0]?.db as LedgerStore;
      expect(
        await db.all(
          'SELECT provider, count(*) AS days, SUM(cost_nano_usd) AS cost FROM billing_daily GROUP BY provider ORDER BY provider',
        ),
      ).toEqual(
        ['anthropic', 'mistral', 'openai'].map((provider) => ({
          provider,
          days: 90,
          cost: 90 * 3_500_000_000,
        })),
      );
      expect(await db.value('SELECT count(*) FROM billing_file')).toBe(3);
    } finally {
      for (const s of sidecars) {
        await s.ext.stop?.();
        await s.db.close();
      }
      rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);
});
