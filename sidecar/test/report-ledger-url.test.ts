/**
 * `spendline report` / `spendline ledger compact` (the built CLI, in a child process) read a
 * PostgreSQL ledger with `--ledger postgres://…` and print the same figures as from the SQLite
 * ledger of a state directory, when one sidecar counted the same records into each.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabaseUrl, testLedgers } from './support/ledgerBackends.js';
import { BUILTIN_MODELS, generateUsageLines } from './support/otlpLines.js';
import { runUntilCaughtUp, tempDir } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const DAY_MS = 86_400_000;
const t = tempDir('spendline-report-ledger-');
afterAll(() => t.cleanup());

// Calls from 5 minutes before yesterday's UTC midnight on: two UTC days, a few hours.
const startMs = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS - 5 * 60_000;
const g = generateUsageLines({
  records: 3000,
  perLine: 40,
  seed: 19,
  // Priced models and one the catalog does not know (its cost is never shown as $0).
  models: [...BUILTIN_MODELS.slice(0, 5), { provider: 'openai', model: 'synthetic-unlisted-1' }],
  services: 3,
  features: 4,
  users: 7,
  startMs,
  kind: 'mixed',
});

const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('spendline report --ledger postgres://…', () => {
  testLedgers('postgres'); // starts the file's PostgreSQL server early
  const sqliteState = join(t.dir, 'sqlite-state');
  let url = '';
  beforeAll(async () => {
    const file = join(t.dir, 'genai.json');
    writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));
    url = await freshDatabaseUrl();
    await runUntilCaughtUp(sqliteState, { otlpGlobs: [file], batchBytes: 16 * 1024 });
    await runUntilCaughtUp(join(t.dir, 'pg-state'), {
      otlpGlobs: [file],
      batchBytes: 16 * 1024,
      ledgerUrl: url,
    });
  });
  const onSqlite = (...args: string[]) => cli(...args, '--state-dir', sqliteState);
  // No state directory at all: the URL is the whole ledger.
  const onPostgres = (...args: string[]) => cli(...args, '--ledger', url);

  const REPORTS: string[][] = [
    ['report'],
    ...['model', 'user', 'day', 'hour'].map((by) => ['report', '--by', by, '--format', 'json']),
    ['report', '--by', 'model', '--format', 'csv'],
    ['report', '--by', 'user', '--format', 'markdown', '--top', '3'],
  ];

  it('prints the same figures as the SQLite ledger, and they are the truth', () => {
    for (const args of REPORTS) {
      const lite = onSqlite(...args);
      const pg = onPostgres(...args);
      expect([lite.status, lite.stderr], args.join(' ')).toEqual([0, '']);
      expect([pg.status, pg.stderr], args.join(' ')).toEqual([0, '']);
      expect(pg.stdout, args.join(' ')).toBe(lite.stdout);
    }
    const json = JSON.parse(onPostgres('report', '--by', 'day', '--format', 'json').stdout);
    expect(json.totals.requests).toBe(g.truth.totals.requests);
    expect(json.totals.errors).toBe(g.truth.totals.errors);
    expect(json.totals.tokens).toEqual(g.truth.totals.tokens);
    expect(json.totals.unpriced_requests).toBeGreaterThan(0); // listed apart, never $0
    expect(json.totals.cost_complete).toBe(false);
    expect(json.rows).toHaveLength(2);
  });

  it('ledger compact --ledger folds the same hours; the reports still agree', () => {
    const byHourBefore = onPostgres('report', '--by', 'hour', '--format', 'json').stdout;
    const lite = onSqlite('ledger', 'compact', '--hourly-retention-days', '1');
    const pg = onPostgres('ledger', 'compact', '--hourly-retention-days', '1');
    expect([pg.status, pg.stderr]).toEqual([0, '']);
    expect(pg.stdout).toBe(lite.stdout);
    expect(pg.stdout).toMatch(
      /^folded [1-9]\d* hourly usage rows and [1-9]\d* hourly principal rows before /,
    );
    for (const args of REPORTS.slice(3))
      expect(onPostgres(...args).stdout, args.join(' ')).toBe(onSqlite(...args).stdout);
    // The folded hour now shows at its day's 00:00; the day totals are unchanged.
    expect(onPostgres('report', '--by', 'hour', '--format', 'json').stdout).not.toBe(byHourBefore);
    const json = JSON.parse(onPostgres('report', '--format', 'json').stdout);
    expect(json.totals.requests).toBe(g.truth.totals.requests);
  });

  it('SPENDLINE_LEDGER_URL stands for --ledger', () => {
    const r = spawnSync(process.execPath, [CLI, 'report', '--format', 'json'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SPENDLINE_LEDGER_URL: url, SPENDLINE_STATE_DIR: join(t.dir, 'nowhere') },
    });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(JSON.parse(r.stdout).totals.requests).toBe(g.truth.totals.requests);
  });
});
