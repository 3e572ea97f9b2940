import type { Router } from 'express';
import type { Registry } from 'prom-client';
import type { LedgerStore } from './ledger/store.js';

/**
 * What a sidecar feature beyond counting (reconciliation, budgets, insights) gets at start:
 * the ledger, the metrics registry, and the `/api` router (already behind bearer-token auth).
 */
export interface SidecarContext {
  /**
   * The ledger (SQLite or a shared PostgreSQL one: write SQL both run, see ledger/store.ts).
   * Extensions read the shared tables and write only tables of their own migrations.
   */
  db: LedgerStore;
  /** The prom-client registry behind `GET /metrics`. */
  registry: Registry;
  /** Mounted at `/api` behind `requireApiToken`; add routes relative to it (e.g. `/usage`). */
  api: Router;
  config: {
    stateDir: string;
    billingGlobs: string[];
    budgetsFile: string | undefined;
    pricesFile: string | undefined;
  };
  /** Current time in ms; injectable for tests. */
  now(): number;
}

export interface SidecarExtension {
  name: string;
  start(ctx: SidecarContext): void | Promise<void>;
  stop?(): void | Promise<void>;
}
