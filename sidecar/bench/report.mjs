#!/usr/bin/env node
/**
 * Benchmark: `spendline report` on a ledger holding the rollups of 10 M usage records.
 * Builds the ledger by writing rollup rows directly (realistic cardinality: 30 days of hourly
 * buckets, 600 active dimension sets per hour, 2,000 active users per hour out of 20,000, a new task
 * every 20 records), then times the
 * report queries in-process and the real CLI end to end. Baseline in the same run: one plain scan of
 * the window (COUNT + SUM), the floor any report has to pay. Prints figures; asserts nothing.
 * Run after `npm run build`: node sidecar/bench/report.mjs [records=10000000] [--keep DIR] [--postgres]
 * (`--keep DIR` builds the SQLite ledger in DIR once and reuses it on later runs; `--postgres` builds
 * the same ledger on a throwaway PostgreSQL server too and times the same queries and the CLI with
 * `--ledger` there.)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');
const { openLedgerStore, sqlitePathOf } = await import(join(dist, 'ledger/openStore.js'));
const { addMeasures, emptyMeasures, principalRowArgs, UPSERT_PRINCIPAL_SQL, UPSERT_USAGE_SQL, usageRowArgs } =
  await import(join(dist, 'ledger/rollups.js'));
const { queryUsage } = await import(join(dist, 'report/queryUsage.js'));
const { usageToTable } = await import(join(dist, 'report/formatUsage.js'));
const { compactRollups } = await import(join(dist, 'retention/compactRollups.js'));
const { startBenchPostgres } = await import('./postgres.mjs');

const RECORDS = Number(process.argv[2]?.startsWith('--') ? 10_000_000 : (process.argv[2] ?? 10_000_000));
const WITH_POSTGRES = process.argv.includes('--postgres');
const DAYS = 30;
const HOURS = DAYS * 24;
const COMBOS_PER_HOUR = 600;
const RECORDS_PER_TASK = 20;
const USERS_PER_HOUR = 2000;

// Deterministic pseudo-random numbers (mulberry32) so every run builds the same ledger.
let seed = 42;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (arr) => arr[Math.floor(rand() ** 2 * arr.length)]; // skewed: a few values dominate
const range = (n, prefix) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const PROVIDERS = ['openai', 'anthropic', 'gcp.vertex_ai', 'aws.bedrock'];
const MODELS = range(12, 'model-');
const SERVICES = range(15, 'svc-');
const OPERATIONS = ['chat', 'embeddings', 'text_completion'];
const FEATURES = range(25, 'feature-');
const TENANTS = range(40, 'tenant-');
const USERS = range(20000, 'user-');

/**
 * Writes 30 days of rollups into `db` through the store, one batch (transaction) per hour, as the
 * sidecar commits them: rows with the same key are added up first (one upsert per row and batch).
 * The same seed gives every ledger the same rows.
 */
async function buildLedger(db) {
  seed = 42;
  const nowHour = Math.floor(Date.now() / 3_600_000) * 3600;
  const perRow = Math.max(1, Math.round(RECORDS / (HOURS * COMBOS_PER_HOUR)));
  let taskSeq = 0;
  for (let h = 0; h < HOURS; h++) {
    const bucketStart = nowHour - h * 3600;
    const usage = new Map();
    const principal = new Map();
    const add = (rows, key, args, m) => {
      const id = args.join('\u0001');
      const row = rows.get(id);
      if (row === undefined) rows.set(id, { key, m });
      else addMeasures(row.m, m);
    };
    for (let c = 0; c < COMBOS_PER_HOUR; c++) {
      const provider = pick(PROVIDERS);
      const dims = {
        bucketStart,
        bucketSeconds: 3600,
        provider,
        model: pick(MODELS),
        service: pick(SERVICES),
        feature: pick(FEATURES),
        usageType: rand() < 0.9 ? 'exact' : 'estimated',
      };
      const m = emptyMeasures();
      m.requests = perRow;
      m.input_tokens = perRow * 800;
      m.output_tokens = perRow * 200;
      const unpriced = rand() < 0.02;
      m.unpriced_requests = unpriced ? perRow : 0;
      m.cost_nano_usd = unpriced ? 0 : perRow * Math.floor(rand() * 5_000_000);
      const key = { ...dims, operation: pick(OPERATIONS), tenantId: pick(TENANTS) };
      add(usage, key, usageRowArgs(key, emptyMeasures()).slice(0, 12), m);
    }
    // Per-principal rows: many users active each hour, and short-lived tasks (a new id every
    // RECORDS_PER_TASK records), each with its own dimension set.
    const principalRow = (kind, id, share) => {
      const m = emptyMeasures();
      m.requests = share;
      m.input_tokens = share * 800;
      m.output_tokens = share * 200;
      m.cost_nano_usd = share * Math.floor(rand() * 5_000_000);
      const key = {
        bucketStart,
        bucketSeconds: 3600,
        provider: pick(PROVIDERS),
        model: pick(MODELS),
        service: pick(SERVICES),
        feature: pick(FEATURES),
        usageType: 'exact',
        principalKind: kind,
        principalId: id,
      };
      add(principal, key, principalRowArgs(key, emptyMeasures()).slice(0, 9), m);
    };
    const perHour = perRow * COMBOS_PER_HOUR;
    for (let u = 0; u < USERS_PER_HOUR; u++)
      principalRow('user', pick(USERS), Math.max(1, Math.round(perHour / USERS_PER_HOUR)));
    for (let t = 0; t < Math.ceil(perHour / RECORDS_PER_TASK); t++)
      principalRow('task', `task-${taskSeq++}`, RECORDS_PER_TASK);
    await db.commitBatch(
      [
        [UPSERT_USAGE_SQL, [...usage.values()].map((r) => usageRowArgs(r.key, r.m))],
        [UPSERT_PRINCIPAL_SQL, [...principal.values()].map((r) => principalRowArgs(r.key, r.m))],
      ],
      null,
    );
  }
}

/** Best of `runs` after one warm-up (page cache, plans). */
async function time(label, fn, runs = 3) {
  await fn();
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    await fn();
    best = Math.min(best, performance.now() - s);
  }
  return { label, ms: best };
}

/** Times the report queries in-process on `db` and the CLI (`ledgerArgs`), against a bare scan. */
async function measureReports(name, db, ledgerArgs) {
  const count = async (t) => Number(await db.value(`SELECT COUNT(*) FROM ${t}`));
  console.log(
    `${name}: ${Number(await db.value('SELECT SUM(requests) FROM usage_rollup')).toLocaleString('en-US')} records as ${(await count('usage_rollup')).toLocaleString('en-US')} usage rollup rows + ${(await count('usage_rollup_principal')).toLocaleString('en-US')} principal rows`,
  );
  const today = Math.floor(Date.now() / 86_400_000) * 86_400;
  const window = { fromSec: today - 29 * 86_400, toSec: today + 86_400 };
  const baseline = await time(`${name} baseline: scan window (COUNT, SUM cost)`, () =>
    db.get(
      'SELECT COUNT(*), SUM(cost_nano_usd) FROM usage_rollup WHERE bucket_start >= ? AND bucket_start < ?',
      [window.fromSec, window.toSec],
    ),
  );
  const results = [baseline];
  for (const by of [undefined, 'provider', 'model', 'service', 'feature', 'tenant', 'day', 'user', 'task']) {
    results.push(
      await time(`${name} report --by ${by ?? '(total)'}`, async () => {
        // As the CLI's default table: the 50 biggest groups, totals over all.
        const r = await queryUsage(db, { ...window, groupBy: by, limit: 50 });
        if (!r.ok) throw new Error(r.reason);
        usageToTable(by ?? 'scope', by ? r.rows : [], r.totals, r.groupCount - r.rows.length);
      }),
    );
  }
  for (const r of results) {
    console.log(
      `${r.label.padEnd(52)} ${r.ms.toFixed(0).padStart(6)} ms   ${(r.ms / baseline.ms).toFixed(1)}x baseline`,
    );
  }
  const cli = join(dist, 'cli.js');
  // Retention: fold the oldest day's hours into daily rows, as the sidecar does once a day (on a
  // shared ledger, the time the sidecars' commits wait).
  const s0 = performance.now();
  const folded = await compactRollups(db, Date.now(), 29);
  console.log(
    `${`${name} compaction: one day's hours folded`.padEnd(52)} ${(performance.now() - s0).toFixed(0).padStart(6)} ms   (${folded.foldedUsageRows.toLocaleString('en-US')} usage + ${folded.foldedPrincipalRows.toLocaleString('en-US')} principal rows)`,
  );
  for (const by of ['provider', 'user', 'task']) {
    const s = performance.now();
    const run = spawnSync(process.execPath, [cli, 'report', '--days-back', '30', '--by', by, ...ledgerArgs], {
      encoding: 'utf8',
    });
    const ms = performance.now() - s;
    if (run.status !== 0) throw new Error(`spendline report failed: ${run.stderr}`);
    console.log(
      `${`${name} CLI: spendline report --by ${by} (wall time)`.padEnd(52)} ${ms.toFixed(0).padStart(6)} ms`,
    );
  }
}

const keepAt = process.argv.indexOf('--keep');
const keepDir = keepAt > 0 ? process.argv[keepAt + 1] : undefined;
const dir = keepDir ?? mkdtempSync(join(tmpdir(), 'spendline-bench-report-'));
const reuse = keepDir !== undefined && existsSync(sqlitePathOf(keepDir));
const pgServer = WITH_POSTGRES ? await startBenchPostgres() : undefined;
try {
  const path = sqlitePathOf(dir);
  const db = await openLedgerStore({ url: undefined, stateDir: dir });
  const t0 = performance.now();
  if (!reuse) await buildLedger(db);
  console.log(
    `SQLite ledger: ${(statSync(path).size / 1e6).toFixed(0)} MB, ${reuse ? 'reused' : `built in ${((performance.now() - t0) / 1000).toFixed(1)} s`}`,
  );
  db.db.pragma('wal_checkpoint(TRUNCATE)');
  db.db.exec('ANALYZE');
  db.db.pragma('mmap_size = 1073741824'); // as the CLI's connection (report/commandSupport.ts)
  await measureReports('SQLite', db, ['--state-dir', dir]);
  await db.close();

  if (pgServer !== undefined) {
    const url = await pgServer.createDatabase();
    const pg = await openLedgerStore({ url, stateDir: dir });
    try {
      const t1 = performance.now();
      await buildLedger(pg);
      await pg.run('ANALYZE');
      console.log(`PostgreSQL ledger: built in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
      await measureReports('PostgreSQL', pg, ['--ledger', url]);
    } finally {
      await pg.close();
    }
  }
} finally {
  pgServer?.stop();
  if (keepDir === undefined) rmSync(dir, { recursive: true, force: true });
}
