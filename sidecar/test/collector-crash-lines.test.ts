/**
 * What a collector killed mid-write leaves in its file export, read by the real pipeline (tailer,
 * decoder, SQLite ledger): a request without its newline, or cut part way, followed by the next request
 * the restarted collector appends on the same line. The complete requests count, once; a cut one is
 * rejected by record, not silently dropped.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateUsageLines } from './support/otlpLines.js';
import {
  ledgerTotals,
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

describe('a collector killed mid-write, restarted with append', () => {
  it('counts the request written without its newline and the one appended after it', async () => {
    const t = tempDir('spendline-collector-crash-');
    cleanups.push(t.cleanup);
    const live = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const g = generateUsageLines({ records: 40, perLine: 10, seed: 5 });
    const [l1, l2, l3, l4] = g.lines as [string, string, string, string];
    // Killed between writing request 2 and its newline: the sidecar waits for the line to end.
    writeFileSync(live, `${l1}\n${l2}`);
    const first = await runUntilCaughtUp(state, { otlpGlobs: [live] });
    expect(recordCounts(first)).toEqual({ counted: 10 });
    // Restarted: requests 3 and 4 appended; 3 lands on 2's line.
    appendFileSync(live, `${l3}\n${l4}\n`);
    const second = await runUntilCaughtUp(state, { otlpGlobs: [live] });
    expect(recordCounts(second)).toEqual({ counted: 40 });
    expect(registryTotals(second)).toEqual(truthTotals(g.truth));
    expect(await ledgerTotals(state)).toEqual(truthTotals(g.truth));
  });

  it('rejects the records of a request cut part way and counts the one appended after it', async () => {
    const t = tempDir('spendline-collector-crash-');
    cleanups.push(t.cleanup);
    const live = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const whole = generateUsageLines({ records: 20, perLine: 10, seed: 6 });
    const [l1, l2] = whole.lines as [string, string];
    const kept = generateUsageLines({ records: 10, perLine: 10, seed: 6 });
    // Request 2 cut inside its fourth record (after the time field the estimate counts records by).
    let cutAt = 0;
    for (let i = 0; i < 4; i++) cutAt = l2.indexOf('"observedTimeUnixNano"', cutAt + 1);
    writeFileSync(live, `${l1}\n${l2.slice(0, cutAt + 40)}`);
    await runUntilCaughtUp(state, { otlpGlobs: [live] });
    const next = generateUsageLines({ records: 10, perLine: 10, seed: 77 });
    appendFileSync(live, `${next.lines[0]}\n`);
    const m = await runUntilCaughtUp(state, { otlpGlobs: [live] });
    expect(recordCounts(m)).toEqual({ counted: 20, rejected: 4 });
    expect(registryTotals(m)).toEqual(truthTotals(kept.truth, next.truth));
  });
});
