/**
 * Label caps count distinct values, not their size: 50 records with different 1 MiB model names
 * made /metrics 210 MB. Values over 128 characters are cut (prefix, marker, hash of the whole, so
 * they stay distinct), the same in /metrics and the ledger, and counted in
 * spendline_label_truncated_total.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { capValueLength, MAX_VALUE_LENGTH, TRUNCATION_MARKER } from '../src/pipeline/valueLength.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { generateUsageLines } from './support/otlpLines.js';
import {
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

const MiB = 1024 * 1024;

describe.each(LEDGER_BACKENDS)('label value length (%s)', (kind) => {
  const ledgerUrlFor = async () => (kind === 'postgres' ? await freshDatabaseUrl() : undefined);

  it('keeps /metrics small with 50 records carrying different 1 MiB model names', async () => {
    const t = tempDir('spendline-labellen-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const models = Array.from({ length: 50 }, (_, i) => ({
      provider: 'openai',
      model: `${String(i).padStart(2, '0')}${'m'.repeat(MiB)}`,
    }));
    const g = generateUsageLines({ records: 50, perLine: 5, seed: 31, models, services: 1, features: 1 });
    writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));
    const ledgerUrl = await ledgerUrlFor();
    const m = await runUntilCaughtUp(state, { otlpGlobs: [file], ledgerUrl });
    expect(registryTotals(m)).toEqual(truthTotals(g.truth));
    expect(recordCounts(m)).toEqual({ counted: 50 });
    const text = await m.registry.metrics();
    // 50 models x (9 counters, 2 histograms) series of at most 5 labels x 128 chars: well under 1 MiB.
    expect(text.length).toBeLessThan(1 * MiB);
    expect(m.counters.labelTruncated.total(['model'])).toBe(50);
    const modelLabels = new Set([...m.counters.requests.series.values()].map((s) => s.values[1]));
    // Distinct long values stay distinct: as many model labels as models the calls used.
    const used = new Set(Object.values(g.truth.groups).map((gr) => gr.model)).size;
    expect(used).toBeGreaterThan(20);
    expect(modelLabels.size).toBe(used);
    for (const v of modelLabels) {
      expect(v?.length).toBe(MAX_VALUE_LENGTH);
      expect(v).toContain(TRUNCATION_MARKER);
    }
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: state });
    try {
      const r = await db.get(
        'SELECT count(DISTINCT model) AS n, max(length(model)) AS longest FROM usage_rollup',
      );
      expect(r).toEqual({ n: used, longest: MAX_VALUE_LENGTH });
      const labels = await db.value(
        "SELECT max(length(value)) FROM label_value WHERE sidecar_id = ? AND label = 'model'",
        ['local'], // runUntilCaughtUp's sidecar
      );
      expect(labels).toBe(MAX_VALUE_LENGTH);
    } finally {
      await db.close();
    }
  }, 120_000);

  it('bounds /metrics by --max-series label combinations: later ones fold into other, counted, totals kept, across restarts', async () => {
    const t = tempDir('spendline-series-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'genai.json');
    const state = join(t.dir, 'state');
    const g = generateUsageLines({ records: 2000, perLine: 20, seed: 32, services: 40, features: 40 });
    writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));
    const ledgerUrl = await ledgerUrlFor();
    const m = await runUntilCaughtUp(state, { otlpGlobs: [file], maxSeries: 100, ledgerUrl });
    const combos = (metrics: typeof m) =>
      new Set([...metrics.counters.cost.series.values()].map((s) => s.values.slice(0, 4).join('|')));
    // Cost series are (provider, model, service, feature): at most 100 admitted + the all-other one.
    expect(combos(m).size).toBeLessThanOrEqual(101);
    expect(combos(m).has('other|other|other|other')).toBe(true);
    const folded = m.counters.labelOverflow.total(['series']);
    expect(folded).toBeGreaterThan(0);
    const otherRequests = [...m.counters.requests.series.values()]
      .filter((s) => s.values.slice(0, 4).every((v) => v === 'other'))
      .reduce((a, s) => a + s.total, 0);
    expect(otherRequests).toBe(folded);
    expect(registryTotals(m)).toEqual(truthTotals(g.truth)); // folding moves counts, never loses them
    // A restart restores the admitted combinations: same series, same totals.
    const again = await runUntilCaughtUp(state, { otlpGlobs: [file], maxSeries: 100, ledgerUrl });
    expect(combos(again)).toEqual(combos(m));
    const series = (metrics: typeof m) =>
      [...metrics.counters.requests.series.values()].map((s) => `${s.values.join('|')}=${s.total}`).sort();
    expect(series(again)).toEqual(series(m));
  }, 60_000);
});

describe('label value length: the cut', () => {
  it('cuts only values over the limit, deterministically, without splitting a surrogate pair', () => {
    expect(capValueLength('gpt-4o')).toBe('gpt-4o');
    const exact = 'a'.repeat(MAX_VALUE_LENGTH);
    expect(capValueLength(exact)).toBe(exact);
    const long = 'b'.repeat(MAX_VALUE_LENGTH + 1);
    expect(capValueLength(long)).toBe(capValueLength(long));
    expect(capValueLength(long)).not.toBe(capValueLength(`${long}c`));
    expect(capValueLength(long)).toHaveLength(MAX_VALUE_LENGTH);
    const emoji = '😀'.repeat(MAX_VALUE_LENGTH);
    const cut = capValueLength(emoji);
    expect(cut.length).toBeLessThanOrEqual(MAX_VALUE_LENGTH);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/); // no lone high surrogate
  });
});
