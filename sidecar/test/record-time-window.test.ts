/**
 * Records dated far outside a plausible window (--max-record-age before now, --max-future-skew after
 * it) are rejected as timestamp_out_of_range, in /metrics and in the ledger alike, so one record from
 * year 275000 can no longer hold spendline_last_record_timestamp_seconds in the future for good.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedgerStore } from '../src/ledger/openStore.js';
import type { SidecarMetrics } from '../src/metrics.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { generateUsageLines } from './support/otlpLines.js';
import {
  ledgerTotals,
  recordCounts,
  registryTotals,
  runUntilCaughtUp,
  tempDir,
  truthTotals,
} from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const NOW = Date.UTC(2026, 5, 1, 12);
const MINUTE = 60_000;
const DAY = 86_400_000;

async function lastRecordSeconds(m: SidecarMetrics): Promise<number> {
  return (await m.gauges.lastRecordTimestamp.get()).values[0]?.value ?? 0;
}

describe.each(LEDGER_BACKENDS)('record time window (%s)', (kind) => {
  const ledgerUrlFor = async () => (kind === 'postgres' ? await freshDatabaseUrl() : undefined);

  it('rejects records from 1970, year 3000, year 275000 and 11 min ahead; counts 9 min ahead and 3000 days ago', async () => {
    const t = tempDir('spendline-time-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const good = [
      generateUsageLines({ records: 20, perLine: 5, seed: 1, startMs: NOW - 2 * DAY }),
      generateUsageLines({ records: 1, perLine: 1, seed: 2, startMs: NOW + 9 * MINUTE }),
      generateUsageLines({ records: 1, perLine: 1, seed: 3, startMs: NOW - 3000 * DAY }),
    ];
    const bad = [
      generateUsageLines({ records: 1, perLine: 1, seed: 4, startMs: 1000 }),
      generateUsageLines({ records: 1, perLine: 1, seed: 5, startMs: Date.UTC(3000, 0, 1) }),
      generateUsageLines({ records: 1, perLine: 1, seed: 6, startMs: Date.UTC(275000, 0, 1) }),
      generateUsageLines({ records: 1, perLine: 1, seed: 7, startMs: NOW + 11 * MINUTE }),
    ];
    writeFileSync(file, [...good, ...bad].flatMap((g) => g.lines.map((l) => `${l}\n`)).join(''));
    const ledgerUrl = await ledgerUrlFor();
    const m = await runUntilCaughtUp(state, { otlpGlobs: [file], now: () => NOW, ledgerUrl });
    const truth = truthTotals(...good.map((g) => g.truth));
    expect(registryTotals(m)).toEqual(truth);
    expect(await ledgerTotals(state, ledgerUrl)).toEqual(truth);
    expect(recordCounts(m)).toEqual({ counted: 22, rejected: 4 });
    expect(m.counters.rejected.total(['timestamp_out_of_range'])).toBe(4);
    // The newest counted record: the one 9 minutes ahead (calls carry sub-second jitter).
    const newest = await lastRecordSeconds(m);
    expect(newest).toBeGreaterThanOrEqual((NOW + 9 * MINUTE) / 1000);
    expect(newest).toBeLessThan((NOW + 10 * MINUTE) / 1000);
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: state });
    try {
      const range = (await db.get<{ lo: number; hi: number }>(
        'SELECT min(bucket_start) AS lo, max(bucket_start) AS hi FROM usage_rollup',
      )) as { lo: number; hi: number };
      expect(range.lo * 1000).toBeGreaterThanOrEqual(NOW - 3001 * DAY);
      expect(range.hi * 1000).toBeLessThanOrEqual(NOW + 10 * MINUTE);
    } finally {
      await db.close();
    }
  });

  it('takes --max-record-age and --max-future-skew, and drops a poisoned stored newest time at start', async () => {
    const t = tempDir('spendline-time-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const old = generateUsageLines({ records: 3, perLine: 3, seed: 8, startMs: NOW - 2 * DAY });
    const ahead = generateUsageLines({ records: 3, perLine: 3, seed: 9, startMs: NOW + 30 * MINUTE });
    writeFileSync(file, [...old.lines, ...ahead.lines].map((l) => `${l}\n`).join(''));
    const ledgerUrl = await ledgerUrlFor();
    const m = await runUntilCaughtUp(state, {
      ledgerUrl,
      otlpGlobs: [file],
      now: () => NOW,
      maxRecordAgeMs: DAY,
      maxFutureSkewMs: 60 * MINUTE,
    });
    expect(recordCounts(m)).toEqual({ counted: 3, rejected: 3 });
    expect(registryTotals(m)).toEqual(truthTotals(ahead.truth));

    // A ledger written before the window existed: its newest time is year 275000.
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: state });
    const poisoned = await db.run(
      "UPDATE pipeline_state SET value = ? WHERE sidecar_id = ? AND name = 'last_record_ms'",
      [String(Date.UTC(275000, 0, 1)), 'local'],
    );
    await db.close();
    expect(poisoned).toBe(1);
    const restarted = await runUntilCaughtUp(state, { otlpGlobs: [file], now: () => NOW, ledgerUrl });
    expect(await lastRecordSeconds(restarted)).toBe(0);
    const later = generateUsageLines({ records: 2, perLine: 2, seed: 10, startMs: NOW - MINUTE });
    writeFileSync(file, later.lines.map((l) => `${l}\n`).join(''), { flag: 'a' });
    const fresh = await runUntilCaughtUp(state, { otlpGlobs: [file], now: () => NOW, ledgerUrl });
    const newest = await lastRecordSeconds(fresh);
    expect(newest).toBeGreaterThanOrEqual((NOW - MINUTE) / 1000);
    expect(newest).toBeLessThanOrEqual(NOW / 1000);
  });
});
