import { appendFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerKind } from '../src/ledger/store.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { generateUsageLines } from './support/otlpLines.js';
import {
  ledgerTotals,
  type RunOptions,
  recordCounts,
  registryTotals,
  runUntilCaughtUp,
  tempDir,
  truthTotals,
} from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A temp dir and a ledger of `kind`; `run` is one sidecar life on them, `totals` the ledger's. */
async function setup(kind: LedgerKind) {
  const t = tempDir('spendline-tail-');
  cleanups.push(t.cleanup);
  const state = join(t.dir, 'state');
  const live = join(t.dir, 'genai.json');
  const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
  return {
    dir: t.dir,
    state,
    live,
    globs: [live],
    run: (options: RunOptions) => runUntilCaughtUp(state, { ...options, ledgerUrl }),
    totals: () => ledgerTotals(state, ledgerUrl),
  };
}

const joinLines = (lines: string[]) => lines.map((l) => `${l}\n`).join('');

describe.each(LEDGER_BACKENDS)('tailing the collector file export (%s)', (kind) => {
  it('consumes only complete lines: a partial last line counts once it is finished', async () => {
    const s = await setup(kind);
    const g = generateUsageLines({ records: 100, perLine: 10, seed: 1 });
    const last = g.lines[9] as string;
    writeFileSync(s.live, joinLines(g.lines.slice(0, 9)) + last.slice(0, 100));
    const first = await s.run({ otlpGlobs: s.globs });
    expect(registryTotals(first).requests).toBe(90);
    expect(recordCounts(first)).toEqual({ counted: 90 });
    appendFileSync(s.live, `${last.slice(100)}\n`);
    const second = await s.run({ otlpGlobs: s.globs });
    expect(registryTotals(second)).toEqual(truthTotals(g.truth));
    expect(await s.totals()).toEqual(truthTotals(g.truth));
  });

  it('reads a rotated file to its end and the new file from its start', async () => {
    const s = await setup(kind);
    const g = generateUsageLines({ records: 200, perLine: 10, seed: 2 });
    writeFileSync(s.live, joinLines(g.lines.slice(0, 5)));
    await s.run({ otlpGlobs: s.globs });
    appendFileSync(s.live, joinLines(g.lines.slice(5, 12)));
    renameSync(s.live, join(s.dir, 'genai-2026-01-01T00-00-00.000.json'));
    writeFileSync(s.live, joinLines(g.lines.slice(12)));
    const m = await s.run({ otlpGlobs: s.globs });
    expect(registryTotals(m)).toEqual(truthTotals(g.truth));
    expect(await s.totals()).toEqual(truthTotals(g.truth));
  });

  it('restarts from 0 after truncation (collector restarted without append), shorter or longer', async () => {
    const s = await setup(kind);
    const a = generateUsageLines({ records: 100, perLine: 10, seed: 3 });
    const b = generateUsageLines({ records: 30, perLine: 10, seed: 4 });
    const c = generateUsageLines({ records: 300, perLine: 10, seed: 5 });
    writeFileSync(s.live, joinLines(a.lines));
    await s.run({ otlpGlobs: s.globs });
    writeFileSync(s.live, joinLines(b.lines)); // shorter than the committed offset
    await s.run({ otlpGlobs: s.globs });
    truncateSync(s.live, 0);
    writeFileSync(s.live, joinLines(c.lines)); // longer: only the first-line hash tells
    const m = await s.run({ otlpGlobs: s.globs });
    expect(registryTotals(m)).toEqual(truthTotals(a.truth, b.truth, c.truth));
    expect(await s.totals()).toEqual(truthTotals(a.truth, b.truth, c.truth));
  });

  it('forgets deleted backups and picks up files that appear later', async () => {
    const s = await setup(kind);
    const a = generateUsageLines({ records: 50, perLine: 5, seed: 6 });
    const b = generateUsageLines({ records: 70, perLine: 7, seed: 7 });
    const glob = [join(s.dir, '*.json')];
    writeFileSync(s.live, joinLines(a.lines));
    await s.run({ otlpGlobs: glob });
    const backup = join(s.dir, 'genai-2026-01-01T00-00-00.000.json');
    renameSync(s.live, backup);
    await s.run({ otlpGlobs: glob });
    rmSync(backup);
    writeFileSync(join(s.dir, 'later.json'), joinLines(b.lines));
    const m = await s.run({ otlpGlobs: glob });
    expect(registryTotals(m)).toEqual(truthTotals(a.truth, b.truth));
    expect(await s.totals()).toEqual(truthTotals(a.truth, b.truth));
  });

  it('counts a call once when both its event and its span arrive, and again never after a restart', async () => {
    const s = await setup(kind);
    const g = generateUsageLines({ records: 120, perLine: 12, seed: 8, kind: 'mixed' });
    writeFileSync(s.live, joinLines(g.lines));
    await s.run({ otlpGlobs: s.globs });
    // The same lines delivered again in a new file (a duplicate delivery).
    writeFileSync(join(s.dir, 'genai-2026-01-02T00-00-00.000.json'), joinLines(g.lines));
    const m = await s.run({ otlpGlobs: s.globs });
    expect(registryTotals(m)).toEqual(truthTotals(g.truth));
    const counts = recordCounts(m);
    expect(counts.counted).toBe(120);
    expect(counts.duplicate).toBe(120 + 240);
    expect(counts.ignored).toBe(2 * g.truth.ignored);
  });

  it('rejects lines over --max-line-bytes with line_too_long and keeps counting the rest', async () => {
    const s = await setup(kind);
    const g = generateUsageLines({ records: 40, perLine: 1, seed: 9 });
    const huge = `{"resourceLogs":[${'{"x":1},'.repeat(5000)}{}]}`;
    writeFileSync(s.live, joinLines([...g.lines.slice(0, 20), huge, ...g.lines.slice(20)]));
    const m = await s.run({ otlpGlobs: s.globs, maxLineBytes: 20_000, batchBytes: 4096 });
    expect(registryTotals(m)).toEqual(truthTotals(g.truth));
    expect(m.counters.rejected.total(['line_too_long'])).toBe(1);
    expect(recordCounts(m)).toEqual({ counted: 40, rejected: 1 });
  });

  it('restores counters from the ledger on restart, so they never reset', async () => {
    const s = await setup(kind);
    const g = generateUsageLines({ records: 2000, perLine: 20, seed: 10, withNoise: true });
    writeFileSync(s.live, joinLines(g.lines));
    const m1 = await s.run({ otlpGlobs: s.globs, batchBytes: 1 << 30 });
    const m2 = await s.run({ otlpGlobs: s.globs });
    expect(registryTotals(m1)).toEqual(truthTotals(g.truth));
    expect(registryTotals(m2)).toEqual(truthTotals(g.truth));
    expect(recordCounts(m2)).toEqual({ counted: 2000, ignored: g.truth.ignored });
  });

  it('keeps dedup keys for the window and lets them expire after it', async () => {
    const s = await setup(kind);
    const g = generateUsageLines({ records: 30, perLine: 3, seed: 12 });
    writeFileSync(s.live, joinLines(g.lines));
    const t0 = Date.UTC(2026, 0, 5);
    await s.run({ otlpGlobs: s.globs, now: () => t0 });
    const copy = join(s.dir, 'genai-2026-01-05T00-00-00.000.json');
    writeFileSync(copy, joinLines(g.lines));
    const within = await s.run({ otlpGlobs: s.globs, now: () => t0 + 3_600_000 });
    expect(recordCounts(within)).toEqual({ counted: 30, duplicate: 30 });
    rmSync(copy);
    // Reversed so that a reused inode is not mistaken for the deleted copy (same first line = same file).
    writeFileSync(join(s.dir, 'genai-2026-01-06T02-00-00.000.json'), joinLines([...g.lines].reverse()));
    const after = await s.run({ otlpGlobs: s.globs, now: () => t0 + 25 * 3_600_000 });
    expect(recordCounts(after)).toEqual({ counted: 60, duplicate: 30 });
  });

  it('waits for an oversized partial line to end, then skips it without holding it', async () => {
    const s = await setup(kind);
    const g = generateUsageLines({ records: 10, perLine: 1, seed: 13 });
    writeFileSync(s.live, `${joinLines(g.lines.slice(0, 5))}${'x'.repeat(50_000)}`);
    const first = await s.run({ otlpGlobs: s.globs, maxLineBytes: 10_000 });
    expect(recordCounts(first)).toEqual({ counted: 5 });
    appendFileSync(s.live, `${'y'.repeat(30_000)}\n${joinLines(g.lines.slice(5))}`);
    const second = await s.run({ otlpGlobs: s.globs, maxLineBytes: 10_000 });
    expect(recordCounts(second)).toEqual({ counted: 10, rejected: 1 });
    expect(second.counters.rejected.total(['line_too_long'])).toBe(1);
    expect(registryTotals(second)).toEqual(truthTotals(g.truth));
  });
});
