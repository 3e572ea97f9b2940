import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { run as compactCommand } from '../src/commands/ledger-compact.js';
import { type LedgerDb, openLedgerDb } from '../src/ledger/openLedger.js';
import { ledgerPath } from '../src/report/commandSupport.js';
import { queryUsage } from '../src/report/queryUsage.js';
import { compactRollups } from '../src/retention/compactRollups.js';
import { addKnownTraffic, type KnownCall, memoryLedger } from './support/ledgerFixture.js';

const DAY_MS = 86_400_000;
const START = Date.parse('2026-01-01T00:00:00Z');
const count = (db: LedgerDb, table: string, seconds: number) =>
  (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE bucket_seconds = ?`).get(seconds) as { n: number }).n;
const sums = (db: LedgerDb) =>
  db
    .prepare(
      `SELECT SUM(requests) AS requests, SUM(cost_nano_usd) AS cost, SUM(unpriced_requests) AS unpriced, SUM(input_tokens) AS input FROM usage_rollup`,
    )
    .get();

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

describe('retention: hourly rollups fold into daily rollups', () => {
  it('preserves every sum exactly and leaves recent hours alone', () => {
    const db = memoryLedger();
    addKnownTraffic(db, [...dayOfTraffic(0), ...dayOfTraffic(1), ...dayOfTraffic(100)]);
    const before = sums(db);
    const byUserBefore = queryUsage(db, {
      fromSec: START / 1000,
      toSec: START / 1000 + 2 * 86_400,
      groupBy: 'user',
    });
    const r = compactRollups(db, START + 100 * DAY_MS + 12 * 3_600_000, 90);
    expect(r).toEqual({
      foldedUsageRows: 2 * 144,
      foldedPrincipalRows: 2 * 24 * 12,
      cutoffSec: START / 1000 + 10 * 86_400,
    });
    expect(sums(db)).toEqual(before);
    expect([count(db, 'usage_rollup', 3600), count(db, 'usage_rollup', 86400)]).toEqual([144, 2 * 6]);
    // Per-user answers over the folded days are unchanged.
    expect(
      queryUsage(db, { fromSec: START / 1000, toSec: START / 1000 + 2 * 86_400, groupBy: 'user' }),
    ).toEqual(byUserBefore);
    // Compacting again changes nothing.
    expect(compactRollups(db, START + 100 * DAY_MS + 12 * 3_600_000, 90).foldedUsageRows).toBe(0);
    expect(sums(db)).toEqual(before);
    db.close();
  });

  it('keeps the ledger bounded across a simulated year of daily compaction', () => {
    const db = memoryLedger();
    const maxHourly: number[] = [];
    let expectedCost = 0;
    for (let day = 0; day < 365; day++) {
      const calls = dayOfTraffic(day);
      for (const c of calls) expectedCost += c.unpriced ? 0 : (c.costNano ?? 0);
      addKnownTraffic(db, calls);
      compactRollups(db, START + (day + 1) * DAY_MS, 90);
      if (day % 30 === 29) maxHourly.push(count(db, 'usage_rollup', 3600));
    }
    // 90 days of hours (6 dimension sets x 24) stay; older days are one row per dimension set.
    expect(Math.max(...maxHourly)).toBe(90 * 24 * 6);
    expect(count(db, 'usage_rollup', 3600)).toBe(90 * 24 * 6);
    expect(count(db, 'usage_rollup', 86400)).toBe((365 - 90) * 6);
    expect(count(db, 'usage_rollup_principal', 3600)).toBe(90 * 24 * 12); // per hour: 6 user rows + 6 task rows
    expect((sums(db) as { cost: number }).cost).toBe(expectedCost);
    db.close();
    // Bounded by its 365 simulated days, not by time: 14 s here under load; the budget holds at 4x.
  }, 120_000);
});

describe('spendline ledger compact', () => {
  it('folds a state directory’s old hours and says how many', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spendline-compact-'));
    try {
      const db = openLedgerDb(ledgerPath(dir));
      addKnownTraffic(db, [
        { at: Date.now() - 200 * DAY_MS, provider: 'openai', costNano: 5 },
        { at: Date.now() - 3_600_000, provider: 'openai', costNano: 7 },
      ]);
      db.close();
      const out: string[] = [];
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
      let code: number;
      try {
        code = await compactCommand(['--state-dir', dir, '--hourly-retention-days', '30']);
      } finally {
        spy.mockRestore();
      }
      expect(code).toBe(0);
      expect(out.join('')).toMatch(/^folded 1 hourly usage rows and 0 hourly principal rows before /);
      const after = openLedgerDb(ledgerPath(dir));
      expect(
        after
          .prepare('SELECT bucket_seconds AS s, cost_nano_usd AS c FROM usage_rollup ORDER BY bucket_start')
          .all(),
      ).toEqual([
        { s: 86400, c: 5 },
        { s: 3600, c: 7 },
      ]);
      after.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
