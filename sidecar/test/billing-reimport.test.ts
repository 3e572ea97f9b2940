import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { importBillingFile } from '../src/billing/importBillingFile.js';
import { watchBillingFiles } from '../src/billing/watchBillingFiles.js';
import { run as billingImport } from '../src/commands/billing-import.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { openPgStore } from '../src/ledger/pgStore.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { freshDatabaseUrl, LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';

const line = (date: string, cost: string, source = 'invoice') =>
  JSON.stringify({ date, provider: 'openai', tokens_total: 10, cost_usd: cost, usage_type: 'llm', source });

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

let dir: string;
let db: LedgerStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-reimport-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, lines: string[], mtimeSec: number): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  utimesSync(path, mtimeSec, mtimeSec);
  return path;
}

const snapshot = (store: LedgerStore = db) =>
  store.all('SELECT * FROM billing_daily ORDER BY provider, day, source');
const billedOn = async (day: string) =>
  db.value<number>("SELECT cost_nano_usd AS n FROM billing_daily WHERE day = ? AND provider = 'openai'", [
    day,
  ]);

describe.each(LEDGER_BACKENDS)('billing re-imports (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  beforeEach(async () => {
    db = await ledgers.open();
  });

  it('importing the same file twice changes nothing', async () => {
    const path = write(
      'a.jsonl',
      [line('2026-09-01', '1.25'), line('2026-09-01', '0.75'), line('2026-09-02', '3')],
      1_790_000_000,
    );
    const first = await importBillingFile(db, path, 1);
    const before = await snapshot();
    const second = await importBillingFile(db, path, 2);
    expect(first.ok && first.unchanged).toBe(false);
    expect(second.ok && second.unchanged).toBe(true);
    expect(await snapshot()).toEqual(before);
    expect(await billedOn('2026-09-01')).toBe(2_000_000_000);
    expect(await billedOn('2026-09-02')).toBe(3_000_000_000);
  });

  it('a newer export of the same provider/day/source replaces the older; the older one re-imported later does not', async () => {
    const older = write('old.jsonl', [line('2026-09-01', '5'), line('2026-09-02', '7')], 1_790_000_000);
    const newer = write('new.jsonl', [line('2026-09-01', '5.5')], 1_790_086_400);
    await importBillingFile(db, older);
    const r = await importBillingFile(db, newer);
    expect(r.ok && [r.daysWritten, r.daysKeptNewer]).toEqual([1, 0]);
    expect(await billedOn('2026-09-01')).toBe(5_500_000_000);
    expect(await billedOn('2026-09-02')).toBe(7_000_000_000); // not in the newer export: untouched

    writeFileSync(older, `${line('2026-09-01', '9')}\n`);
    utimesSync(older, 1_790_000_000, 1_790_000_000);
    const stale = await importBillingFile(db, older);
    expect(stale.ok && [stale.daysWritten, stale.daysKeptNewer]).toEqual([0, 1]);
    expect(await billedOn('2026-09-01')).toBe(5_500_000_000);
  });

  it('an older export of 300 days after a newer one of 100 of them: 200 written, the 100 newer kept', async () => {
    const day = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10);
    const days = Array.from({ length: 300 }, (_, i) => day(i));
    // The newer export covers every third day of the older one's, at $9 a day.
    const newer = write(
      'newer.jsonl',
      days.filter((_, i) => i % 3 === 0).map((d) => line(d, '9')),
      1_790_086_400,
    );
    const older = write(
      'older.jsonl',
      days.map((d) => line(d, '1')),
      1_790_000_000,
    );
    const n = await importBillingFile(db, newer);
    expect(n.ok && [n.daysWritten, n.daysKeptNewer]).toEqual([100, 0]);
    const o = await importBillingFile(db, older);
    expect(o.ok && [o.daysWritten, o.daysKeptNewer]).toEqual([200, 100]);
    expect(
      await db.all(
        'SELECT cost_nano_usd AS n, count(*) AS days FROM billing_daily GROUP BY cost_nano_usd ORDER BY n',
      ),
    ).toEqual([
      { n: 1_000_000_000, days: 200 },
      { n: 9_000_000_000, days: 100 },
    ]);
  });

  it('another source for the same day is kept apart (no double counting inside one source)', async () => {
    await importBillingFile(db, write('a.jsonl', [line('2026-09-01', '1', 'invoice')], 1_790_000_000));
    await importBillingFile(
      db,
      write('b.jsonl', [line('2026-09-01', '2', 'openai.costs_api')], 1_790_000_000),
    );
    expect((await snapshot()).map((r) => (r as { source: string }).source)).toEqual([
      'invoice',
      'openai.costs_api',
    ]);
  });

  it('the --billing watcher re-imports a file when its size or mtime changes, and skips it otherwise', async () => {
    const path = write('w.jsonl', [line('2026-09-01', '1')], 1_790_000_000);
    const watcher = watchBillingFiles(db, [join(dir, '*.jsonl')], { intervalMs: 3_600_000 });
    try {
      expect((await watcher.scan()).length).toBe(1);
      expect((await watcher.scan()).length).toBe(0);
      write('w.jsonl', [line('2026-09-01', '1'), line('2026-09-01', '0.5')], 1_790_000_100);
      const again = await watcher.scan();
      expect(again.map((r) => r.ok && r.accepted)).toEqual([2]);
      expect(await billedOn('2026-09-01')).toBe(1_500_000_000);
      expect(path.endsWith('w.jsonl')).toBe(true);
    } finally {
      watcher.stop();
    }
  });

  it('spendline billing import: reports rejected rows as file:line, exits 1 and writes nothing of that file', async () => {
    const stateDir = join(dir, 'state');
    const url = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    const path = write(
      'cli.jsonl',
      [line('2026-09-01', '2.5'), '{"date":"2026-09-01","provider":"openai"}'],
      1_790_000_000,
    );
    const out: string[] = [];
    const err: string[] = [];
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
    let code: number;
    try {
      code = await billingImport([
        path,
        ...(url === undefined ? ['--state-dir', stateDir] : ['--ledger', url]),
      ]);
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    expect(code).toBe(1);
    expect(out.join('')).toBe('');
    expect(err.join('')).toBe(
      `${path}:2: rejected: cost_usd: expected an amount, got undefined\n` +
        `${path}: not imported: generic_jsonl: 1 row(s) rejected, so nothing from this file is imported (all-or-nothing per file); fix or remove them and import again\n`,
    );
    const ledger = await openLedgerStore({ url, stateDir, mustExist: true });
    try {
      expect(await ledger.get('SELECT count(*) AS n FROM billing_daily')).toEqual({ n: 0 });
    } finally {
      await ledger.close();
    }
  });

  it('spendline billing import --ledger / --state-dir: imports, and a second run of the same file is unchanged', async () => {
    const stateDir = join(dir, 'state');
    const url = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    const path = write('ok.jsonl', [line('2026-09-01', '2.5'), line('2026-09-02', '1')], 1_790_000_000);
    const out: string[] = [];
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
    const codes: number[] = [];
    try {
      for (let i = 0; i < 2; i++)
        codes.push(
          await billingImport([path, ...(url === undefined ? ['--state-dir', stateDir] : ['--ledger', url])]),
        );
    } finally {
      o.mockRestore();
    }
    expect(codes).toEqual([0, 0]);
    expect(out).toEqual([
      `${path}: generic_jsonl: 2 rows accepted, 0 ignored (not AI spend); 2 provider-days written\n`,
      `${path}: generic_jsonl: 2 rows accepted, 0 ignored (not AI spend); 2 provider-days written (unchanged)\n`,
    ]);
    const ledger = await openLedgerStore({ url, stateDir, mustExist: true });
    try {
      expect(await ledger.all('SELECT day, cost_nano_usd FROM billing_daily ORDER BY day')).toEqual([
        { day: '2026-09-01', cost_nano_usd: 2_500_000_000 },
        { day: '2026-09-02', cost_nano_usd: 1_000_000_000 },
      ]);
    } finally {
      await ledger.close();
    }
  });
});

describe('spendline billing import --ledger', () => {
  it('a URL that is not PostgreSQL is refused with one line and exit 2, nothing created', async () => {
    const path = write('x.jsonl', [line('2026-09-01', '1')], 1_790_000_000);
    const err: string[] = [];
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
    let code: number;
    try {
      code = await billingImport([
        path,
        '--ledger',
        'mysql://db.example/ledger',
        '--state-dir',
        join(dir, 'state'),
      ]);
    } finally {
      e.mockRestore();
    }
    expect(code).toBe(2);
    expect(err).toEqual([
      'spendline: --ledger: the ledger URL must be postgres:// or postgresql:// (got mysql:); without one the ledger is SQLite in the state directory\n',
    ]);
    expect(existsSync(join(dir, 'state'))).toBe(false);
  });
});

describe('billing import into one PostgreSQL ledger from several sidecars at once', () => {
  it('two concurrent imports of the same file leave exactly one copy, and one of them finds it unchanged', async () => {
    const url = await freshDatabaseUrl();
    // Two sidecars: two stores, each with its own connection pool, on one ledger.
    const a = await openPgStore({ url, sidecarId: 'a' });
    const b = await openPgStore({ url, sidecarId: 'b' });
    try {
      // 200 provider-days per file, so the two transactions overlap; several rounds, fresh files.
      const days = Array.from({ length: 200 }, (_, i) =>
        new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10),
      );
      for (let round = 0; round < 5; round++) {
        const path = write(
          `shared-${round}.jsonl`,
          days.map((d, i) => line(d, `${round + 1}.${String(i).padStart(3, '0')}`, `source-${round}`)),
          1_790_000_000 + round,
        );
        const [ra, rb] = await Promise.all([importBillingFile(a, path, 1), importBillingFile(b, path, 2)]);
        expect(ra.ok && rb.ok).toBe(true);
        // The second import waited for the first (per-file lock) and saw its commit.
        expect([ra, rb].map((r) => r.ok && r.unchanged).sort()).toEqual([false, true]);
        expect([ra, rb].map((r) => r.ok && r.daysWritten)).toEqual([200, 200]);
        expect(
          await a.get(
            'SELECT count(*) AS n, SUM(cost_nano_usd) AS cost FROM billing_daily WHERE source = ?',
            [`source-${round}`],
            { bigint: true },
          ),
        ).toEqual({
          n: 200n,
          cost: days.reduce(
            (sum, _d, i) => sum + BigInt(round + 1) * 1_000_000_000n + BigInt(i) * 1_000_000n,
            0n,
          ),
        });
        expect(await a.value('SELECT count(*) FROM billing_file WHERE path = ?', [path])).toBe(1);
      }
      expect(await a.value('SELECT count(*) FROM billing_daily')).toBe(1000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('two `spendline billing import --ledger` processes on one file at once: both exit 0, one copy', async () => {
    const url = await freshDatabaseUrl();
    const days = Array.from({ length: 120 }, (_, i) =>
      new Date(Date.UTC(2026, 0, 1) + i * 86_400_000).toISOString().slice(0, 10),
    );
    const path = write(
      'cli-shared.jsonl',
      days.map((d) => line(d, '2')),
      1_790_000_000,
    );
    const importer = () =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'billing', 'import', path], {
          env: { ...process.env, SPENDLINE_LEDGER_URL: url },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
        });
        child.stderr.on('data', (b: Buffer) => {
          err += b.toString();
        });
        child.on('close', (code) => resolve({ code, out, err }));
      });
    const results = await Promise.all([importer(), importer()]);
    expect(results.map((r) => [r.code, r.err])).toEqual([
      [0, ''],
      [0, ''],
    ]);
    expect(results.map((r) => r.out.endsWith('(unchanged)\n')).sort()).toEqual([false, true]);
    const ledger = await openLedgerStore({ url, stateDir: join(dir, 'unused') });
    try {
      expect(
        await ledger.get('SELECT count(*) AS n, SUM(cost_nano_usd) AS cost FROM billing_daily', [], {
          bigint: true,
        }),
      ).toEqual({ n: 120n, cost: 240_000_000_000n });
    } finally {
      await ledger.close();
    }
  }, 60_000);
});
