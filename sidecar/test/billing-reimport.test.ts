import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { importBillingFile } from '../src/billing/importBillingFile.js';
import { watchBillingFiles } from '../src/billing/watchBillingFiles.js';
import { run as billingImport } from '../src/commands/billing-import.js';
import type { LedgerDb } from '../src/ledger/openLedger.js';
import { openLedgerDb } from '../src/ledger/openLedger.js';
import { ledgerPath } from '../src/report/commandSupport.js';
import { memoryLedger } from './support/ledgerFixture.js';

const line = (date: string, cost: string, source = 'invoice') =>
  JSON.stringify({ date, provider: 'openai', tokens_total: 10, cost_usd: cost, usage_type: 'llm', source });

let dir: string;
let db: LedgerDb;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-reimport-'));
  db = memoryLedger();
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, lines: string[], mtimeSec: number): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  utimesSync(path, mtimeSec, mtimeSec);
  return path;
}

const snapshot = () => db.prepare('SELECT * FROM billing_daily ORDER BY provider, day, source').all();
const billedOn = (day: string) =>
  (
    db
      .prepare("SELECT cost_nano_usd AS n FROM billing_daily WHERE day = ? AND provider = 'openai'")
      .get(day) as { n: number } | undefined
  )?.n;

describe('billing re-imports', () => {
  it('importing the same file twice changes nothing', () => {
    const path = write(
      'a.jsonl',
      [line('2026-09-01', '1.25'), line('2026-09-01', '0.75'), line('2026-09-02', '3')],
      1_790_000_000,
    );
    const first = importBillingFile(db, path, 1);
    const before = snapshot();
    const second = importBillingFile(db, path, 2);
    expect(first.ok && first.unchanged).toBe(false);
    expect(second.ok && second.unchanged).toBe(true);
    expect(snapshot()).toEqual(before);
    expect(billedOn('2026-09-01')).toBe(2_000_000_000);
    expect(billedOn('2026-09-02')).toBe(3_000_000_000);
  });

  it('a newer export of the same provider/day/source replaces the older; the older one re-imported later does not', () => {
    const older = write('old.jsonl', [line('2026-09-01', '5'), line('2026-09-02', '7')], 1_790_000_000);
    const newer = write('new.jsonl', [line('2026-09-01', '5.5')], 1_790_086_400);
    importBillingFile(db, older);
    const r = importBillingFile(db, newer);
    expect(r.ok && [r.daysWritten, r.daysKeptNewer]).toEqual([1, 0]);
    expect(billedOn('2026-09-01')).toBe(5_500_000_000);
    expect(billedOn('2026-09-02')).toBe(7_000_000_000); // not in the newer export: untouched

    writeFileSync(older, `${line('2026-09-01', '9')}\n`);
    utimesSync(older, 1_790_000_000, 1_790_000_000);
    const stale = importBillingFile(db, older);
    expect(stale.ok && [stale.daysWritten, stale.daysKeptNewer]).toEqual([0, 1]);
    expect(billedOn('2026-09-01')).toBe(5_500_000_000);
  });

  it('another source for the same day is kept apart (no double counting inside one source)', () => {
    importBillingFile(db, write('a.jsonl', [line('2026-09-01', '1', 'invoice')], 1_790_000_000));
    importBillingFile(db, write('b.jsonl', [line('2026-09-01', '2', 'openai.costs_api')], 1_790_000_000));
    expect(snapshot().map((r) => (r as { source: string }).source)).toEqual(['invoice', 'openai.costs_api']);
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
      expect(billedOn('2026-09-01')).toBe(1_500_000_000);
      expect(path.endsWith('w.jsonl')).toBe(true);
    } finally {
      watcher.stop();
    }
  });

  it('spendline billing import: reports rejected rows as file:line, exits 1 and writes nothing of that file', async () => {
    const stateDir = join(dir, 'state');
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
      code = await billingImport([path, '--state-dir', stateDir]);
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
    const ledger = openLedgerDb(ledgerPath(stateDir));
    try {
      expect(ledger.prepare('SELECT count(*) AS n FROM billing_daily').get()).toEqual({ n: 0 });
    } finally {
      ledger.close();
    }
  });
});
