import { nanoToUsd } from '@spendline/sdk/core';
import { Gauge, type Registry } from 'prom-client';
import type { LedgerStore } from '../ledger/store.js';
import { lastDays, type ReconciledDay, reconcileDays } from './reconcileDays.js';

/**
 * `llm_tracked_cost_usd`, `llm_billed_cost_usd`, `llm_untracked_cost_usd`, `llm_tracked_tokens`,
 * `llm_billed_tokens` {provider, day} for the last `daysBack` UTC days, read from the ledger at scrape
 * time (so they survive restarts and late records; on a shared ledger they are the fleet's figures).
 * Billed and untracked are absent for a day with no export yet; billed tokens also when the export
 * carries no token total.
 *
 * The ledger is async, so each gauge has an async `collect` (prom-client awaits it): figures are as
 * of the scrape, never a cached value from an earlier one. When the ledger cannot be read (PostgreSQL
 * down), these gauges are absent from that scrape instead of failing the whole `/metrics` answer.
 *
 * Read from a PostgreSQL ledger, every sidecar sharing it exports the same fleet figures: they carry
 * `ledger="shared"` so that queries take them once (`max`) instead of summing them across sidecars
 * as they must for sidecars with ledgers of their own (prometheus/rules/recording.yml).
 */
export function registerReconciliationGauges(
  registry: Registry,
  db: LedgerStore,
  now: () => number,
  daysBack = 35,
): void {
  const shared = db.kind === 'postgres';
  const labelNames = shared ? ['provider', 'day', 'ledger'] : ['provider', 'day'];
  const labelsOf = (d: ReconciledDay): Record<string, string> =>
    shared ? { provider: d.provider, day: d.day, ledger: 'shared' } : { provider: d.provider, day: d.day };
  // One ledger read serves the five gauges of one scrape: prom-client starts their collects in the
  // same tick, so they join the read in flight; the next scrape reads again.
  let inFlight: Promise<ReconciledDay[]> | undefined;
  const refresh = (): Promise<ReconciledDay[]> => {
    inFlight ??= reconcileDays(db, lastDays(now(), daysBack), 0)
      .catch((): ReconciledDay[] => [])
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  new Gauge({
    name: 'llm_tracked_cost_usd',
    help: 'Cost tracked in the ledger per provider and UTC day (exact + estimated), USD.',
    labelNames,
    registers: [registry],
    async collect() {
      const days = await refresh();
      this.reset();
      for (const d of days) this.set(labelsOf(d), nanoToUsd(d.trackedNano));
    },
  });
  new Gauge({
    name: 'llm_billed_cost_usd',
    help: 'Cost billed by the provider per UTC day, from imported billing exports, USD.',
    labelNames,
    registers: [registry],
    async collect() {
      const days = await refresh();
      this.reset();
      for (const d of days) {
        if (d.billedNano !== null) this.set(labelsOf(d), nanoToUsd(d.billedNano));
      }
    },
  });
  new Gauge({
    name: 'llm_untracked_cost_usd',
    help: 'Billed minus tracked cost per provider and UTC day, USD (negative: more tracked than billed).',
    labelNames,
    registers: [registry],
    async collect() {
      const days = await refresh();
      this.reset();
      for (const d of days) {
        if (d.untrackedNano !== null) this.set(labelsOf(d), nanoToUsd(d.untrackedNano));
      }
    },
  });
  new Gauge({
    name: 'llm_tracked_tokens',
    help: 'Tokens tracked in the ledger per provider and UTC day (input + output, every kind).',
    labelNames,
    registers: [registry],
    async collect() {
      const days = await refresh();
      this.reset();
      for (const d of days) this.set(labelsOf(d), d.trackedTokens);
    },
  });
  new Gauge({
    name: 'llm_billed_tokens',
    help: 'Tokens billed by the provider per UTC day, when its billing export carries a token total.',
    labelNames,
    registers: [registry],
    async collect() {
      const days = await refresh();
      this.reset();
      for (const d of days) {
        if (d.billedTokens !== null) this.set(labelsOf(d), d.billedTokens);
      }
    },
  });
}
