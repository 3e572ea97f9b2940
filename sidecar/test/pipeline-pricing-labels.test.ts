import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPricer } from '@spendline/sdk';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
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
function dir() {
  const t = tempDir('spendline-pipe-');
  cleanups.push(t.cleanup);
  return t.dir;
}
const jsonl = (rows: object[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

describe.each(LEDGER_BACKENDS)('pricing in the counting pipeline (%s)', (kind) => {
  it('prices by the catalog, uses the emitter price only when the catalog has none, and never shows unpriced as $0', async () => {
    const d = dir();
    const file = join(d, 'usage.jsonl');
    writeFileSync(
      file,
      jsonl([
        {
          id: 'a',
          ts: '2026-01-02T10:00:00Z',
          provider: 'openai',
          model: 'gpt-4o',
          usage: { prompt_tokens: 1000, completion_tokens: 500, cost_usd: 99 },
        },
        {
          id: 'b',
          ts: '2026-01-02T10:00:01Z',
          provider: 'acme',
          model: 'house-model',
          usage: { prompt_tokens: 10, completion_tokens: 5, cost_usd: '0.000123' },
        },
        {
          id: 'c',
          ts: '2026-01-02T10:00:02Z',
          provider: 'acme',
          model: 'house-model',
          usage: { prompt_tokens: 7, completion_tokens: 3 },
        },
      ]),
    );
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    const m = await runUntilCaughtUp(join(d, 'state'), { jsonlGlobs: [file], ledgerUrl });
    const expected = createPricer().priceUsage(
      {
        inputTokens: 1000,
        outputTokens: 500,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
        reasoningOutputTokens: 0,
      },
      { provider: 'openai', model: 'gpt-4o', at: new Date('2026-01-02T10:00:00Z') },
    );
    expect(expected.status).toBe('priced');
    const costs = [...m.counters.cost.series.values()].map((s) => [s.values[0], s.values[1], s.total]);
    expect(costs).toEqual([
      ['openai', 'gpt-4o', expected.status === 'priced' ? expected.costNanoUsd : -1],
      ['acme', 'house-model', 123_000],
    ]);
    expect([...m.counters.unpriced.series.values()].map((s) => [s.values, s.total])).toEqual([
      [['acme', 'house-model', 'unknown_service'], 1],
    ]);
    expect(registryTotals(m).requests).toBe(3);
  });
});

describe.each(LEDGER_BACKENDS)('label caps (%s)', (kind) => {
  it('folds values past the cap into "other", counts the overflow, and keeps the same series after a restart', async () => {
    const d = dir();
    const file = join(d, 'usage.jsonl');
    const rows = Array.from({ length: 12 }, (_, i) => ({
      id: `r${i}`,
      ts: '2026-01-02T10:00:00Z',
      provider: 'openai',
      model: `m-${i % 4}`,
      usage: { prompt_tokens: 1, completion_tokens: 1 },
    }));
    writeFileSync(file, jsonl(rows));
    const state = join(d, 'state');
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    const first = await runUntilCaughtUp(state, { jsonlGlobs: [file], labelCaps: { model: 2 }, ledgerUrl });
    const models = (m: typeof first) =>
      Object.fromEntries([...m.counters.requests.series.values()].map((s) => [s.values[1], s.total]));
    expect(models(first)).toEqual({ 'm-0': 3, 'm-1': 3, other: 6 });
    expect(first.counters.labelOverflow.total(['model'])).toBe(6);
    // A new model after restart still folds (the admitted set is in the ledger), old series restored.
    writeFileSync(
      file,
      jsonl([...rows, { ...rows[0], id: 'late', model: 'm-9' }, { ...rows[0], id: 'late2', model: 'm-1' }]),
    );
    const second = await runUntilCaughtUp(state, { jsonlGlobs: [file], labelCaps: { model: 2 }, ledgerUrl });
    expect(models(second)).toEqual({ 'm-0': 3, 'm-1': 4, other: 7 });
    expect(second.counters.labelOverflow.total(['model'])).toBe(7);
  });
});

describe('bad input', () => {
  it('survives fuzzed bad lines between good ones and counts every good record exactly', async () => {
    const g = generateUsageLines({ records: 60, perLine: 3, seed: 5 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 200 }).map((s) => s.replace(/\n/g, ' ')),
            fc.json().map((s) => s.replace(/\n/g, ' ')),
            fc.integer({ min: 1, max: 400 }).map((n) => (g.lines[0] as string).slice(0, n)),
            fc.constant(
              '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"gen_ai.usage.input_tokens","value":{"intValue":"-5"}}]}]}]}]}',
            ),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        async (bad) => {
          const d = tempDir('spendline-fuzz-');
          try {
            const file = join(d.dir, 'genai.json');
            const mixed: string[] = [];
            g.lines.forEach((l, i) => {
              mixed.push(l);
              const b = bad[i % bad.length];
              if (b !== undefined) mixed.push(b);
            });
            writeFileSync(file, mixed.map((l) => `${l}\n`).join(''));
            const m = await runUntilCaughtUp(join(d.dir, 'state'), { otlpGlobs: [file] });
            expect(registryTotals(m)).toEqual(truthTotals(g.truth));
            expect(recordCounts(m).counted).toBe(60);
          } finally {
            d.cleanup();
          }
        },
      ),
      { numRuns: 25, seed: 4 },
    );
  }, 60_000);
});
