import { nanoToUsd } from '@spendline/sdk/core';
import { Gauge, type Registry } from 'prom-client';
import type { LedgerDb } from '../ledger/openLedger.js';
import { lastDays, reconcileDays } from './reconcileDays.js';

/**
 * `llm_tracked_cost_usd`, `llm_billed_cost_usd`, `llm_untracked_cost_usd`, `llm_tracked_tokens`,
 * `llm_billed_tokens` {provider, day} for the last `daysBack` UTC days, read from the ledger at scrape
 * time (so they survive restarts and late records). Billed and untracked are absent for a day with no
 * export yet; billed tokens also when the export carries no token total.
 */
export function registerReconciliationGauges(
  registry: Registry,
  db: LedgerDb,
  now: () => number,
  daysBack = 35,
): void {
  let snapshot: ReturnType<typeof reconcileDays> = [];
  let takenAt = Number.NEGATIVE_INFINITY;
  // One ledger read serves the three gauges of one scrape.
  const refresh = () => {
    const t = performance.now();
    if (t - takenAt > 250) {
      snapshot = reconcileDays(db, lastDays(now(), daysBack), 0);
      takenAt = t;
    }
    return snapshot;
  };
  new Gauge({
    name: 'llm_tracked_cost_usd',
    help: 'Cost tracked in the ledger per provider and UTC day (exact + estimated), USD.',
    labelNames: ['provider', 'day'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of refresh()) this.set({ provider: d.provider, day: d.day }, nanoToUsd(d.trackedNano));
    },
  });
  new Gauge({
    name: 'llm_billed_cost_usd',
    help: 'Cost billed by the provider per UTC day, from imported billing exports, USD.',
    labelNames: ['provider', 'day'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of refresh()) {
        if (d.billedNano !== null) this.set({ provider: d.provider, day: d.day }, nanoToUsd(d.billedNano));
      }
    },
  });
  new Gauge({
    name: 'llm_untracked_cost_usd',
    help: 'Billed minus tracked cost per provider and UTC day, USD (negative: more tracked than billed).',
    labelNames: ['provider', 'day'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of refresh()) {
        if (d.untrackedNano !== null)
          this.set({ provider: d.provider, day: d.day }, nanoToUsd(d.untrackedNano));
      }
    },
  });
  new Gauge({
    name: 'llm_tracked_tokens',
    help: 'Tokens tracked in the ledger per provider and UTC day (input + output, every kind).',
    labelNames: ['provider', 'day'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of refresh()) this.set({ provider: d.provider, day: d.day }, d.trackedTokens);
    },
  });
  new Gauge({
    name: 'llm_billed_tokens',
    help: 'Tokens billed by the provider per UTC day, when its billing export carries a token total.',
    labelNames: ['provider', 'day'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of refresh()) {
        if (d.billedTokens !== null) this.set({ provider: d.provider, day: d.day }, d.billedTokens);
      }
    },
  });
}
