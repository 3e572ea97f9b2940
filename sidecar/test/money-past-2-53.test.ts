/**
 * Money stays exact past 2^53 nano-USD (~$9M) in one rollup row and in totals: the ledger adds in
 * int64 (SQLite INTEGER, PostgreSQL BIGINT: up to 9.2e18 nano-USD) and every reader takes its sums
 * as bigint or exact text, so reports, the usage API, reconciliation, insights and the restored
 * counters show the exact amount, on both ledgers.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPricer } from '@spendline/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
import type { SidecarConfig } from '../src/config.js';
import { type RunningSidecar, startSidecar } from '../src/index.js';
import { computeInsights } from '../src/insights/computeInsights.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { DEFAULT_LABEL_CAPS } from '../src/pipeline/labelCaps.js';
import { buildReconciliationReport, reportToJson } from '../src/reconcile/dailyReport.js';
import { lastDays } from '../src/reconcile/reconcileDays.js';
import { queryUsage } from '../src/report/queryUsage.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const NOW = Date.UTC(2026, 10, 30, 12);
/** Each call's own price (an unlisted model, so the emitter's price is used): 9,000,000.000000001 USD. */
const CALL_NANO = 9_000_000_000_000_001n;

function line(i: number): string {
  return `${JSON.stringify({
    ts: NOW - 3_600_000 + i * 1000,
    id: `big-${i}`,
    provider: 'acme',
    model: 'acme-huge-1',
    service: 'ledger',
    input_tokens: 10,
    output_tokens: 5,
    cost_usd: '9000000.000000001',
    error_type: 'timeout',
  })}\n`;
}

async function start(
  dir: string,
  batchBytes: number,
  ledgerUrl: string | undefined,
): Promise<RunningSidecar> {
  const config: SidecarConfig = {
    ...(ledgerUrl === undefined ? {} : { ledgerUrl }),
    otlpGlobs: [],
    jsonlGlobs: [join(dir, 'usage.jsonl')],
    stateDir: join(dir, 'state'),
    listen: { host: '127.0.0.1', port: await freePort() },
    pricesFile: undefined,
    billingGlobs: [],
    budgetsFile: undefined,
    maxLineBytes: 1 << 20,
    dedupWindowMs: 86_400_000,
    batchBytes,
    pollIntervalMs: 10,
    labelCaps: DEFAULT_LABEL_CAPS,
    firstIncrementHoldMs: 0,
    apiToken: undefined,
    now: () => NOW,
  };
  const sidecar = await startSidecar(config);
  await sidecar.ready;
  return sidecar;
}

/** `nano` as the exact decimal USD string the API and JSON reports use. */
const usd = (nano: bigint) =>
  `${nano / 1_000_000_000n}.${(nano % 1_000_000_000n).toString().padStart(9, '0')}`;

describe.each(LEDGER_BACKENDS)('money past 2^53 nano-USD (%s)', (kind) => {
  testLedgers(kind);
  // batchBytes 1: one line per batch, the sum builds up across commits (in SQLite); 1 MiB: all in one
  // batch, the sum builds up in memory (number, then a bigint carry).
  it.each([
    ['across batches', 1],
    ['within one batch', 1 << 20],
  ])(
    'one rollup row of 3 calls at 9,000,000.000000001 USD %s is exact in the ledger, reports, API, reconciliation, insights and after a restart',
    async (_name, batchBytes) => {
      const dir = mkdtempSync(join(tmpdir(), 'spendline-money-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      writeFileSync(join(dir, 'usage.jsonl'), [0, 1, 2].map(line).join(''));
      const total = 3n * CALL_NANO; // 27,000,000.000000003 USD: not a float64 (spacing 4 past 2^54)
      expect(Number(total) === Number(total + 1n)).toBe(true);

      const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
      let sidecar = await start(dir, batchBytes, ledgerUrl);
      const checkLedger = async (expected: bigint) => {
        const db = await openLedgerStore({ url: ledgerUrl, stateDir: join(dir, 'state') });
        try {
          const rollup = await db.get<{ n: bigint; cost: bigint }>(
            'SELECT count(*) AS n, sum(cost_nano_usd) AS cost FROM usage_rollup',
            [],
            { bigint: true },
          );
          expect(rollup).toEqual({ n: 1n, cost: expected });
          const counter = await db.value(
            "SELECT total FROM metric_counter WHERE metric = 'llm_cost_usd_total'",
            [],
            { bigint: true },
          );
          expect(counter).toBe(expected);
          const usage = await queryUsage(db, { fromSec: 0, toSec: NOW / 1000 + 86_400 });
          expect(usage.ok && usage.totals.costNano).toBe(expected);
          const days = reportToJson(await buildReconciliationReport(db, lastDays(NOW, 2), 5)).days;
          expect(days.map((d) => [d.provider, d.tracked_usd])).toEqual([['acme', usd(expected)]]);
          const failed = (await computeInsights(db, createPricer(), NOW)).find(
            (i) => i.kind === 'failed_calls',
          );
          expect(failed?.evidence.group_cost_usd).toBe(usd(expected));
        } finally {
          await db.close();
        }
      };
      const overall = async (s: RunningSidecar) =>
        ((await (await fetch(`${s.url}/api/usage/overall`)).json()) as { totals: { cost_usd: string } })
          .totals.cost_usd;
      expect(await overall(sidecar)).toBe(usd(total));
      await sidecar.stop();
      await checkLedger(total);

      // Restored counters keep adding exactly.
      appendFileSync(join(dir, 'usage.jsonl'), line(3));
      sidecar = await start(dir, batchBytes, ledgerUrl);
      expect(await overall(sidecar)).toBe(usd(4n * CALL_NANO));
      await sidecar.stop();
      await checkLedger(4n * CALL_NANO);
    },
    60_000,
  );
});
