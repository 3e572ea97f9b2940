/**
 * A SQLite batch commit is one transaction written in slices, the event loop running between them:
 * nothing else on the connection lands inside it or sees part of it, a failure in a later slice
 * leaves nothing behind, and a process killed between slices leaves nothing behind either.
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { tuneHeapForCounting } from '../src/heap.js';
import { runWrites, type SqlArg, type WriteOp } from '../src/ledger/ledgerWriter.js';
import { openLedgerDb } from '../src/ledger/openLedger.js';
import { sqliteStore } from '../src/ledger/sqliteStore.js';
import { tempDir } from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});
function dir(): string {
  const t = tempDir('spendline-sliced-');
  cleanups.push(t.cleanup);
  return t.dir;
}

const ROWS = 2_000;
const INSERT = 'INSERT INTO label_value (sidecar_id, label, value) VALUES (?, ?, ?)';
/** ROWS label_value rows from a generator reusing one array (as the batch's row generators do). */
function* rows(prefix: string, failAt = -1): Generator<SqlArg[]> {
  const args: SqlArg[] = ['local', 'feature', ''];
  for (let i = 0; i < ROWS; i++) {
    // A NULL value violates NOT NULL: the statement fails in a late slice.
    args[2] = i === failAt ? null : `${prefix}-${i}`;
    yield args;
  }
}
const count = (db: Database.Database) =>
  (db.prepare('SELECT count(*) AS n FROM label_value').get() as { n: number }).n;

describe('sliced SQLite batch commit', () => {
  it('yields between slices, and nothing on the connection runs inside the transaction', async () => {
    const path = join(dir(), 'ledger.sqlite');
    const db = openLedgerDb(path);
    // Slices of 0 ms: the writer yields after every 32 statements, however fast the machine.
    const store = sqliteStore(db, path, { commitSliceMs: 0 });
    let turns = 0;
    const reads: Promise<unknown>[] = [];
    let done = false;
    const ticker = async () => {
      while (!done) {
        await new Promise((r) => setImmediate(r));
        turns++;
        // Reads issued while the commit is in progress wait for it: they see all rows or none.
        if (turns % 7 === 0) reads.push(store.value('SELECT count(*) FROM label_value'));
      }
    };
    const ticking = ticker();
    await store.commitBatch([[INSERT, rows('a')]], null);
    done = true;
    await ticking;
    const seen = (await Promise.all(reads)).map(Number);
    expect(turns).toBeGreaterThan(ROWS / 32 / 2);
    expect(seen.length).toBeGreaterThan(0);
    for (const n of seen) expect(n).toBe(ROWS);
    // Another connection (a report) sees nothing before the commit and everything after it.
    const other = new Database(path, { readonly: true });
    expect(count(other)).toBe(ROWS);
    other.close();
    await store.close();
  });

  it('writes nothing when a statement in a later slice fails', async () => {
    const path = join(dir(), 'ledger.sqlite');
    const db = openLedgerDb(path);
    const store = sqliteStore(db, path, { commitSliceMs: 0 });
    const ops: WriteOp[] = [
      [INSERT, rows('a')],
      [INSERT, rows('b', ROWS - 5)],
    ];
    await expect(store.commitBatch(ops, null)).rejects.toThrow(/NOT NULL/);
    expect(db.inTransaction).toBe(false);
    expect(count(db)).toBe(0);
    // The connection is usable afterwards.
    await store.commitBatch([[INSERT, rows('c')]], null);
    expect(count(db)).toBe(ROWS);
    await store.close();
  });

  it('leaves nothing behind when the process is killed between two slices', async () => {
    const d = dir();
    const path = join(d, 'ledger.sqlite');
    openLedgerDb(path).close();
    // A child commits ROWS rows in 0 ms slices and is SIGKILLed from its first pause, mid-transaction.
    const script = join(d, 'child.mjs');
    const writer = new URL('../dist/ledger/ledgerWriter.js', import.meta.url).href;
    const opener = new URL('../dist/ledger/openLedger.js', import.meta.url).href;
    writeFileSync(
      script,
      `import { runWrites } from ${JSON.stringify(writer)};
import { openLedgerDb } from ${JSON.stringify(opener)};
const db = openLedgerDb(${JSON.stringify(path)});
const rows = Array.from({ length: ${ROWS} }, (_, i) => ['local', 'feature', 'v' + i]);
await runWrites(db, [[${JSON.stringify(INSERT)}, rows]], 0, () => {
  process.send('paused');
  return new Promise(() => {});
});
`,
    );
    const child = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`child exited ${code} before pausing`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const db = openLedgerDb(path);
    expect(count(db)).toBe(0);
    db.close();
  });

  it('runWrites without a slice length writes everything in one go', async () => {
    const db = openLedgerDb(':memory:');
    let pauses = 0;
    await runWrites(db, [[INSERT, rows('a')]], Number.POSITIVE_INFINITY, async () => {
      pauses++;
    });
    expect(pauses).toBe(0);
    expect(count(db)).toBe(ROWS);
    db.close();
  });
});

describe('heap growth for counting', () => {
  it('leaves a --heap-growing-percent given to node alone', () => {
    expect(tuneHeapForCounting(['--heap-growing-percent=300'])).toBe(false);
    expect(tuneHeapForCounting(['--heap_growing_percent=300'])).toBe(false);
  });
});
