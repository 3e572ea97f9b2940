/**
 * Runs the real counting pipeline (tailer, decoders, pricer, SQLite ledger) in-process until it has
 * caught up, then reads the totals from the registry and from the ledger, and stops (a clean restart).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPricer } from '@spendline/sdk';
import { TOKEN_TYPES, type TokenType } from '@spendline/sdk/contract';
import { openLedgerStore } from '../../src/ledger/openStore.js';
import type { LedgerStore } from '../../src/ledger/store.js';
import { createSidecarMetrics, type SidecarMetrics } from '../../src/metrics.js';
import { startIngestLoop } from '../../src/pipeline/ingestLoop.js';
import { DEFAULT_LABEL_CAPS } from '../../src/pipeline/labelCaps.js';
import type { GeneratedTruth } from './otlpLines.js';

export interface Totals {
  requests: number;
  errors: number;
  tokens: Record<TokenType, number>;
}

export function emptyTotals(): Totals {
  return {
    requests: 0,
    errors: 0,
    tokens: { input: 0, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 },
  };
}

export function truthTotals(...truths: GeneratedTruth[]): Totals {
  const t = emptyTotals();
  for (const g of truths) {
    t.requests += g.totals.requests;
    t.errors += g.totals.errors;
    for (const k of TOKEN_TYPES) t.tokens[k] += g.totals.tokens[k];
  }
  return t;
}

export function registryTotals(metrics: SidecarMetrics): Totals {
  const t = emptyTotals();
  for (const s of metrics.counters.requests.series.values()) {
    t.requests += s.total;
    if (s.values[4] === 'error') t.errors += s.total;
  }
  for (const s of metrics.counters.tokens.series.values()) t.tokens[s.values[3] as TokenType] += s.total;
  return t;
}

export function recordCounts(metrics: SidecarMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of metrics.counters.records.series.values()) {
    const result = s.values[1] as string;
    out[result] = (out[result] ?? 0) + s.total;
  }
  return out;
}

/** The ledger's usage totals: the state directory's SQLite file, or the PostgreSQL ledger at `ledgerUrl`. */
export async function ledgerTotals(stateDir: string, ledgerUrl?: string): Promise<Totals> {
  const db = await openLedgerStore({ url: ledgerUrl, stateDir });
  try {
    const r = (await db.get<Record<string, number>>(
      `SELECT coalesce(sum(requests),0) AS requests, coalesce(sum(errors),0) AS errors, coalesce(sum(input_tokens),0) AS input,
         coalesce(sum(cache_read_tokens),0) AS cache_read, coalesce(sum(cache_write_tokens),0) AS cache_write,
         coalesce(sum(output_tokens),0) AS output, coalesce(sum(reasoning_tokens),0) AS reasoning FROM usage_rollup`,
    )) as Record<string, number>;
    const t = emptyTotals();
    t.requests = r.requests ?? 0;
    t.errors = r.errors ?? 0;
    for (const k of TOKEN_TYPES) t.tokens[k] = r[k] ?? 0;
    return t;
  } finally {
    await db.close();
  }
}

export interface RunOptions {
  otlpGlobs?: string[];
  jsonlGlobs?: string[];
  maxLineBytes?: number;
  batchBytes?: number;
  labelCaps?: Partial<typeof DEFAULT_LABEL_CAPS>;
  now?: () => number;
  dedupWindowMs?: number;
  maxRecordAgeMs?: number;
  maxFutureSkewMs?: number;
  maxSeries?: number;
  /** A PostgreSQL ledger (default: SQLite in the state directory). */
  ledgerUrl?: string;
  /** The sidecar's identity on a PostgreSQL ledger (default `local`). */
  sidecarId?: string;
  /** What the loop gets instead of the opened ledger store (e.g. one whose commits fail). */
  wrapStore?: (db: LedgerStore) => LedgerStore;
}

const pricer = createPricer();

/** One sidecar "life": start from the ledger, read to the end, stop cleanly. Returns its metrics. */
export async function runUntilCaughtUp(stateDir: string, options: RunOptions): Promise<SidecarMetrics> {
  const db = await openLedgerStore({
    url: options.ledgerUrl,
    stateDir,
    ...(options.ledgerUrl !== undefined ? { sidecarId: options.sidecarId ?? 'local' } : {}),
  });
  const metrics = createSidecarMetrics();
  const loop = await startIngestLoop(options.wrapStore?.(db) ?? db, metrics, pricer, {
    otlpGlobs: options.otlpGlobs ?? [],
    jsonlGlobs: options.jsonlGlobs ?? [],
    maxLineBytes: options.maxLineBytes ?? 16 * 1024 * 1024,
    batchBytes: options.batchBytes ?? 64 * 1024,
    pollIntervalMs: 5,
    dedupWindowMs: options.dedupWindowMs ?? 86_400_000,
    labelCaps: { ...DEFAULT_LABEL_CAPS, ...options.labelCaps },
    maxSeries: options.maxSeries,
    maxRecordAgeMs: options.maxRecordAgeMs,
    maxFutureSkewMs: options.maxFutureSkewMs,
    now: options.now ?? Date.now,
  });
  try {
    await Promise.race([loop.ready, loop.done]);
  } finally {
    await loop.stop();
    await db.close();
  }
  await loop.done;
  return metrics;
}

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A seeded pseudo-random sequence in [0, 1) (an LCG): the same seed, the same run. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
