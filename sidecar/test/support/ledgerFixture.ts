import { openLedgerDb } from '../../src/ledger/openLedger.js';
import {
  addMeasures,
  emptyMeasures,
  type Measures,
  type PrincipalRollupKey,
  principalRowArgs,
  type RollupKey,
  UPSERT_PRINCIPAL_SQL,
  UPSERT_USAGE_SQL,
  usageRowArgs,
} from '../../src/ledger/rollups.js';
import { sqliteStore } from '../../src/ledger/sqliteStore.js';
import type { LedgerStore } from '../../src/ledger/store.js';

/** One model call (or a batch of identical ones) as the ingest pipeline would roll it up. */
export interface KnownCall {
  /** The record's own timestamp: ISO string or unix ms. */
  at: string | number;
  provider: string;
  model?: string;
  service?: string;
  operation?: string;
  feature?: string;
  tenant?: string;
  usageType?: 'exact' | 'estimated';
  user?: string;
  task?: string;
  /** Priced cost in nano-USD (omit with `unpriced`). */
  costNano?: number;
  requests?: number;
  errors?: number;
  /** The calls had no known price: counted as unpriced, cost 0 in the sum. */
  unpriced?: boolean;
  inputTokens?: number;
  outputTokens?: number;
}

/** A private in-memory SQLite ledger (see ledgerBackends.ts for both backends). */
export function memoryLedger(): LedgerStore & { db: ReturnType<typeof openLedgerDb> } {
  return sqliteStore(openLedgerDb(':memory:'), ':memory:');
}

/**
 * Writes known traffic into hourly rollups (and per-user / per-task rollups) in one transaction.
 * Calls with the same rollup key are added up first, so each table takes one multi-row upsert (a
 * statement per call is slow on PostgreSQL, and one statement may not update a row twice).
 */
export async function addKnownTraffic(db: LedgerStore, calls: KnownCall[]): Promise<void> {
  const usage = new Map<string, { key: RollupKey; m: Measures }>();
  const principal = new Map<string, { key: PrincipalRollupKey; m: Measures }>();
  const add = <K>(rows: Map<string, { key: K; m: Measures }>, key: K, id: string, m: Measures) => {
    const row = rows.get(id);
    if (row === undefined) rows.set(id, { key, m: { ...m } });
    else addMeasures(row.m, m);
  };
  for (const c of calls) {
    const ms = typeof c.at === 'number' ? c.at : Date.parse(c.at);
    if (Number.isNaN(ms)) throw new Error(`bad fixture time ${String(c.at)}`);
    const seconds = Math.floor(ms / 1000);
    const m: Measures = emptyMeasures();
    const requests = c.requests ?? 1;
    m.requests = requests;
    m.errors = c.errors ?? 0;
    m.cost_nano_usd = c.unpriced ? 0 : (c.costNano ?? 0);
    m.unpriced_requests = c.unpriced ? requests : 0;
    m.input_tokens = c.inputTokens ?? 0;
    m.output_tokens = c.outputTokens ?? 0;
    m.unpriced_tokens = c.unpriced ? m.input_tokens + m.output_tokens : 0;
    const dims = {
      bucketStart: seconds - (seconds % 3600),
      bucketSeconds: 3600,
      provider: c.provider,
      model: c.model ?? 'model-a',
      service: c.service ?? 'svc',
      feature: c.feature ?? '',
      usageType: c.usageType ?? 'exact',
    };
    const u: RollupKey = { ...dims, operation: c.operation ?? 'chat', tenantId: c.tenant ?? '' };
    add(usage, u, JSON.stringify(usageRowArgs(u, emptyMeasures()).slice(0, 12)), m);
    for (const [kind, id] of [
      ['user', c.user],
      ['task', c.task],
    ] as const) {
      if (id === undefined) continue;
      const p: PrincipalRollupKey = { ...dims, principalKind: kind, principalId: id };
      add(principal, p, JSON.stringify(principalRowArgs(p, emptyMeasures()).slice(0, 9)), m);
    }
  }
  await db.commitBatch(
    [
      [UPSERT_USAGE_SQL, [...usage.values()].map((r) => usageRowArgs(r.key, r.m))],
      [UPSERT_PRINCIPAL_SQL, [...principal.values()].map((r) => principalRowArgs(r.key, r.m))],
    ],
    null,
  );
}

/** 1 USD in nano-USD, to write expectations readably (`3 * USD + 500 * MILLI_USD`). */
export const USD = 1_000_000_000;
export const MILLI_USD = 1_000_000;
