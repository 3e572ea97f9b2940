import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { run as compactCommand } from '../src/commands/ledger-compact.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { queryUsage } from '../src/report/queryUsage.js';
import { compactRollups } from '../src/retention/compactRollups.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
import { addKnownTraffic, type KnownCall } from './support/ledgerFixture.js';

const DAY_MS = 86_400_000;
const START = Date.parse('2026-01-01T00:00:00Z');
const count = async (db: LedgerStore, table: string, seconds: number) =>
  Number(await db.value(`SELECT COUNT(*) FROM ${table} WHERE bucket_seconds = ?`, [seconds]));
const sums = (db: LedgerStore) =>
  db.get(
    `SELECT SUM(requests) AS requests, SUM(cost_nano_usd) AS cost, SUM(unpriced_requests) AS unpriced, SUM(input_tokens) AS input FROM usage_rollup`,
    [],
    { bigint: true },
  );

/** One day of traffic: 24 hours x 3 models x 2 services (6 usage rows/hour), a user and a task on each call. */
function dayOfTraffic(dayIndex: number): KnownCall[] {
  const calls: KnownCall[] = [];
  for (let h = 0; h < 24; h++) {
    for (const [m, model] of ['gpt-4o', 'gpt-4o-mini', 'claude'].entries()) {
      for (const service of ['chat', 'search']) {
        calls.push({
          at: START + dayIndex * DAY_MS + h * 3_600_000 + 60_000,
          provider: model === 'claude' ? 'anthropic' : 'openai',
          model,
          service,
          user: `u${(h + m) % 3}`,
          task: `task-${dayIndex % 7}`,
          costNano: 1_000_003 * (h + 1) + m,
          requests: 1 + (h % 2),
          unpriced: model === 'claude' && h === 0,
          inputTokens: 10 * h,
        });
      }
    }
  }
  return calls;
}

describe.each(LEDGER_BACKENDS)('retention (%s)', (kind) => {
  const ledgers = testLedgers(kind);

  describe('hourly rollups fold into daily rollups', () => {
    it('preserves every sum exactly and leaves recent hours alone', async () => {
      const db = await ledgers.open();
      await addKnownTraffic(db, [...dayOfTraffic(0), ...dayOfTraffic(1), ...dayOfTraffic(100)]);
      const before = await sums(db);
      const byUserBefore = await queryUsage(db, {
        fromSec: START / 1000,
        toSec: START / 1000 + 2 * 86_400,
        groupBy: 'user',
      });
      const r = await compactRollups(db, START + 100 * DAY_MS + 12 * 3_600_000, 90);
      expect(r).toEqual({
        foldedUsageRows: 2 * 144,
        foldedPrincipalRows: 2 * 24 * 12,
        cutoffSec: START / 1000 + 10 * 86_400,
      });
      expect(await sums(db)).toEqual(before);
      expect([await count(db, 'usage_rollup', 3600), await count(db, 'usage_rollup', 86400)]).toEqual([
        144,
        2 * 6,
      ]);
      // Per-user answers over the folded days are unchanged.
      expect(
        await queryUsage(db, { fromSec: START / 1000, toSec: START / 1000 + 2 * 86_400, groupBy: 'user' }),
      ).toEqual(byUserBefore);
      // Compacting again changes nothing.
      expect((await compactRollups(db, START + 100 * DAY_MS + 12 * 3_600_000, 90)).foldedUsageRows).toBe(0);
      expect(await sums(db)).toEqual(before);
    });

    it('keeps the ledger bounded across a simulated year of daily compaction', async () => {
      const db = await ledgers.open();
      const maxHourly: number[] = [];
      let expectedCost = 0n;
      for (let day = 0; day < 365; day++) {
        const calls = dayOfTraffic(day);
        for (const c of calls) expectedCost += BigInt(c.unpriced ? 0 : (c.costNano ?? 0));
        await addKnownTraffic(db, calls);
        await compactRollups(db, START + (day + 1) * DAY_MS, 90);
        if (day % 30 === 29) maxHourly.push(await count(db, 'usage_rollup', 3600));
      }
      // 90 days of hours (6 dimension sets x 24) stay; older days are one row per dimension set.
      expect(Math.max(...maxHourly)).toBe(90 * 24 * 6);
      expect(await count(db, 'usage_rollup', 3600)).toBe(90 * 24 * 6);
      expect(await count(db, 'usage_rollup', 86400)).toBe((365 - 90) * 6);
      expect(await count(db, 'usage_rollup_principal', 3600)).toBe(90 * 24 * 12); // per hour: 6 user rows + 6 task rows
      expect((await sums(db))?.cost).toBe(expectedCost);
      // Bounded by its 365 simulated days, not by time: 14 s here under load; the budget holds at 4x.
    }, 240_000);

    it('counts every call exactly once while writers add into the hours being folded and compactions overlap', async () => {
      // PostgreSQL: three sidecars (connections of their own) add into old hours while two of them
      // compact again and again. SQLite: one ledger, the same calls interleaved on its connection.
      const url = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
      const stores: LedgerStore[] = [];
      if (url === undefined) stores.push(await ledgers.open());
      else for (let i = 0; i < 3; i++) stores.push(await openLedgerStore({ url, stateDir: '.' }));
      const storeOf = (i: number) => stores[i % stores.length] as LedgerStore;
      try {
        const NOW = START + 100 * DAY_MS;
        const rounds = 30;
        let expectedCost = 0n;
        let expectedRequests = 0;
        const writer = async (w: number) => {
          for (let round = 0; round < rounds; round++) {
            // Days 0..4: all older than the 90-day hourly retention at NOW.
            const calls: KnownCall[] = dayOfTraffic(round % 5).filter((_, i) => i % 12 === (w + round) % 12);
            for (const c of calls) {
              expectedCost += BigInt(c.unpriced ? 0 : (c.costNano ?? 0));
              expectedRequests += c.requests ?? 1;
            }
            await addKnownTraffic(storeOf(w), calls);
          }
        };
        let compactions = 0;
        let writing = true;
        const compactor = async (c: number) => {
          while (writing) {
            await compactRollups(storeOf(c), NOW, 90);
            compactions++;
          }
        };
        const writers = Promise.all([0, 1, 2].map(writer)).finally(() => {
          writing = false;
        });
        await Promise.all([writers, compactor(0), compactor(1)]);
        await compactRollups(storeOf(2), NOW, 90);
        expect(compactions).toBeGreaterThan(2);
        const db = storeOf(0);
        expect(await count(db, 'usage_rollup', 3600)).toBe(0);
        expect(await count(db, 'usage_rollup_principal', 3600)).toBe(0);
        const s = await sums(db);
        expect([s?.cost, Number(s?.requests)]).toEqual([expectedCost, expectedRequests]);
        // The principal rollups too: each call has one user row and one task row.
        const principal = await db.get<{ cost: bigint; requests: bigint }>(
          'SELECT SUM(cost_nano_usd) AS cost, SUM(requests) AS requests FROM usage_rollup_principal',
          [],
          { bigint: true },
        );
        expect(principal).toEqual({ cost: 2n * expectedCost, requests: BigInt(2 * expectedRequests) });
      } finally {
        if (url !== undefined) for (const st of stores) await st.close();
      }
    }, 120_000);
  });

  describe('spendline ledger compact', () => {
    it('folds the old hours of a state directory, or of --ledger, and says how many', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'spendline-compact-'));
      try {
        const url = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
        const db = await openLedgerStore({ url, stateDir: dir });
        await addKnownTraffic(db, [
          { at: Date.now() - 200 * DAY_MS, provider: 'openai', costNano: 5 },
          { at: Date.now() - 3_600_000, provider: 'openai', costNano: 7 },
        ]);
        await db.close();
        const out: string[] = [];
        const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
        let code: number;
        try {
          code = await compactCommand([
            ...(url === undefined ? ['--state-dir', dir] : ['--ledger', url]),
            '--hourly-retention-days',
            '30',
          ]);
        } finally {
          spy.mockRestore();
        }
        expect(code).toBe(0);
        expect(out.join('')).toMatch(/^folded 1 hourly usage rows and 0 hourly principal rows before /);
        const after = await openLedgerStore({ url, stateDir: dir });
        try {
          expect(
            await after.all(
              'SELECT bucket_seconds AS s, cost_nano_usd AS c FROM usage_rollup ORDER BY bucket_start',
            ),
          ).toEqual([
            { s: 86400, c: 5 },
            { s: 3600, c: 7 },
          ]);
        } finally {
          await after.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
