import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { usageToMarkdown, usageToTable } from '../src/report/formatUsage.js';
import { exactPlaces, usdExact } from '../src/report/money.js';
import type { UsageRow, UsageTotals } from '../src/report/queryUsage.js';

const zero: UsageTotals = {
  requests: 1,
  errors: 0,
  costNano: 0n,
  exactCostNano: 0n,
  estimatedCostNano: 0n,
  unpricedRequests: 0,
  unpricedTokens: 0,
  inputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  ocrPages: 0,
  embeddingInputs: 0,
  unknownUsageRequests: 0,
};
const row = (key: string, exact: bigint, estimated = 0n): UsageRow => ({
  ...zero,
  key,
  costNano: exact + estimated,
  exactCostNano: exact,
  estimatedCostNano: estimated,
});
const totalOf = (rows: UsageRow[]): UsageTotals => {
  const t = { ...zero, requests: 0 };
  for (const r of rows) {
    t.requests += r.requests;
    t.costNano += r.costNano;
    t.exactCostNano += r.exactCostNano;
    t.estimatedCostNano += r.estimatedCostNano;
  }
  return t;
};

/** "$1,234.0001875" → its value in units of 10^-places USD. */
const displayed = (cell: string, places: number): bigint => {
  const m = /^(-?)\$([\d,]+)\.(\d+)$/.exec(cell);
  if (!m) throw new Error(`not a money cell: ${cell}`);
  expect(m[3]?.length).toBe(places);
  const v = BigInt(`${(m[2] ?? '').replace(/,/g, '')}${m[3]}`);
  return m[1] === '-' ? -v : v;
};
/** The cost column of each line of a table (rows, then TOTAL). */
const costColumn = (table: string) =>
  table
    .split('\n')
    .filter((l) => /^\S.*\s\$/.test(l) && !l.startsWith('-'))
    .map((l) => l.split(/\s{2,}/)[1] ?? '');

describe('money in CLI tables', () => {
  it('never shows priced usage as $0.00 and prints it exactly', () => {
    const rows = [row('gpt-4o-mini', 187_500n), row('gpt-4o', 4_250_000_000n)];
    const table = usageToTable('model', rows, totalOf(rows));
    expect(table).toContain('$0.0001875');
    expect(table).toContain('$4.2500000');
    expect(table).toMatch(/TOTAL\s+\$4\.2501875/);
    expect(table).not.toContain('$0.00 ');
    expect(usdExact(187_500n)).toBe('$0.0001875');
    expect(usdExact(12_500_000_000)).toBe('$12.50');
    expect(usdExact(1n)).toBe('$0.000000001');
    expect(exactPlaces([])).toBe(2);
  });

  it('rows add up to the TOTAL exactly as displayed, whatever the amounts', () => {
    const amount = fc.oneof(
      fc.bigInt({ min: 0n, max: 1_000n }),
      fc.bigInt({ min: 0n, max: 10_000_000n }),
      fc.bigInt({ min: 0n, max: 10n ** 15n }),
      fc.bigInt({ min: 0n, max: 10n ** 9n }).map((v) => v * 10_000_000n),
    );
    fc.assert(
      fc.property(fc.array(amount, { minLength: 1, maxLength: 12 }), (amounts) => {
        const rows = amounts.map((a, i) => row(`m${i}`, a));
        const totals = totalOf(rows);
        const table = usageToTable('model', rows, totals);
        const cells = costColumn(table);
        expect(cells).toHaveLength(rows.length + 1);
        const places = exactPlaces([...amounts, totals.costNano]);
        const shown = cells.map((c) => displayed(c, places));
        const scale = 10n ** BigInt(9 - places);
        expect(shown.slice(0, -1)).toEqual(amounts.map((a) => a / scale));
        expect(shown.slice(0, -1).reduce((a, b) => a + b, 0n)).toBe(shown.at(-1));
        for (const [i, a] of amounts.entries()) if (a > 0n) expect(shown[i]).toBeGreaterThan(0n);
        expect(usageToMarkdown('model', rows, totals, 't')).toContain(cells.at(-1) ?? 'missing');
      }),
      { numRuns: 300, seed: 16 },
    );
  });
});
