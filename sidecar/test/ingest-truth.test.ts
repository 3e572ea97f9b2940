/**
 * Per-series exactness of the whole counting pipeline (tailer, decoders, dedup, pricer, ledger)
 * against the generator's ground truth: every (provider, model, service) group, every token type,
 * OCR pages, embedding inputs, and cost (catalog price, else the emitter's own, else unpriced).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPricer } from '@spendline/sdk';
import { TOKEN_TYPES, USAGE_TYPES } from '@spendline/sdk/contract';
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerKind } from '../src/ledger/store.js';
import type { SidecarMetrics } from '../src/metrics.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { type GeneratedLines, generateUsageLines } from './support/otlpLines.js';
import { recordCounts, runUntilCaughtUp, tempDir } from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

type Sums = Record<string, number>;
const bump = (o: Sums, k: string, n: number) => {
  if (n !== 0) o[k] = (o[k] ?? 0) + n;
};

/** Registry totals keyed `provider|model|service|<what>`. */
function registryByGroup(m: SidecarMetrics): Sums {
  const out: Sums = {};
  for (const s of m.counters.requests.series.values()) {
    const [p, model, svc, , status] = s.values;
    bump(out, `${p}|${model}|${svc}|requests`, s.total);
    if (status === 'error') bump(out, `${p}|${model}|${svc}|errors`, s.total);
  }
  for (const s of m.counters.tokens.series.values()) {
    const [p, model, svc, type, usage] = s.values;
    bump(out, `${p}|${model}|${svc}|${usage}:${type}`, s.total);
  }
  for (const s of m.counters.ocrPages.series.values())
    bump(out, `${s.values.slice(0, 3).join('|')}|ocr_pages`, s.total);
  for (const s of m.counters.embeddingInputs.series.values())
    bump(out, `${s.values.slice(0, 3).join('|')}|embedding_inputs`, s.total);
  for (const s of m.counters.cost.series.values())
    bump(out, `${s.values.slice(0, 3).join('|')}|cost_nano`, s.total);
  for (const s of m.counters.unpriced.series.values())
    bump(out, `${s.values.slice(0, 3).join('|')}|unpriced`, s.total);
  return out;
}

const pricer = createPricer();

/** The same sums from the generator's truth, with cost computed per call from the catalog. */
function truthByGroup(g: GeneratedLines): Sums {
  const out: Sums = {};
  for (const [key, t] of Object.entries(g.truth.groups)) {
    bump(out, `${key}|requests`, t.requests);
    bump(out, `${key}|errors`, t.errors);
    for (const u of USAGE_TYPES) for (const k of TOKEN_TYPES) bump(out, `${key}|${u}:${k}`, t.tokens[u][k]);
    bump(out, `${key}|ocr_pages`, t.ocrPages);
    bump(out, `${key}|embedding_inputs`, t.embeddingInputs);
  }
  for (const c of g.truth.callList ?? []) {
    const key = `${c.provider}|${c.model}|${c.service}`;
    const price = pricer.priceUsage(
      { ...c.tokens, ocrPages: 0, embeddingInputs: 0 },
      { provider: c.provider, model: c.model, at: new Date(c.timestampMs) },
    );
    if (price.status === 'priced') bump(out, `${key}|cost_nano`, price.costNanoUsd);
    else if (c.emitterCostNanoUsd !== null) bump(out, `${key}|cost_nano`, c.emitterCostNanoUsd);
    else bump(out, `${key}|unpriced`, 1);
  }
  return out;
}

async function ingest(g: GeneratedLines, kind: LedgerKind) {
  const t = tempDir('spendline-ingest-');
  cleanups.push(t.cleanup);
  const file = join(t.dir, 'genai.json');
  writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));
  const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
  const m = await runUntilCaughtUp(join(t.dir, 'state'), {
    otlpGlobs: [file],
    batchBytes: 16 * 1024,
    ledgerUrl,
  });
  // A restart restores the totals from the ledger (metric_counter): the same figures.
  const restored = await runUntilCaughtUp(join(t.dir, 'state'), { otlpGlobs: [file], ledgerUrl });
  expect(registryByGroup(restored)).toEqual(registryByGroup(m));
  return m;
}

describe.each(LEDGER_BACKENDS)(
  'counting pipeline against the generator truth, series by series (%s)',
  (kind) => {
    it('counts usage events with noise exactly per provider, model and service (chat models only)', async () => {
      const models = [
        { provider: 'openai', model: 'gpt-4o' },
        { provider: 'anthropic', model: 'claude-3-5-sonnet-20241022' },
        { provider: 'openai', model: 'o3-mini' },
        { provider: 'openai', model: 'synthetic-model-x' },
      ];
      const g = generateUsageLines({
        records: 3000,
        perLine: 25,
        seed: 11,
        models,
        services: 5,
        withNoise: true,
        withCalls: true,
      });
      const m = await ingest(g, kind);
      const expected = truthByGroup(g);
      const kinds = (suffix: string) => Object.keys(expected).filter((k) => k.endsWith(suffix)).length;
      // 3 priced models and 1 unknown model (no emitter price either), each across 5 services.
      expect([kinds('|cost_nano'), kinds('|unpriced')]).toEqual([15, 5]);
      expect(registryByGroup(m)).toEqual(expected);
      expect(recordCounts(m)).toEqual({ counted: 3000, ignored: g.truth.ignored });
    });

    it('counts each call once when it arrives as both an event and a span, across 20 models', async () => {
      const g = generateUsageLines({
        records: 2500,
        perLine: 40,
        seed: 5,
        kind: 'mixed',
        models: 20,
        services: 7,
      });
      const m = await ingest(g, kind);
      const got = registryByGroup(m);
      const want: Sums = {};
      for (const [key, t] of Object.entries(g.truth.groups)) {
        bump(want, `${key}|requests`, t.requests);
        bump(want, `${key}|errors`, t.errors);
        for (const u of USAGE_TYPES)
          for (const k of TOKEN_TYPES) bump(want, `${key}|${u}:${k}`, t.tokens[u][k]);
        bump(want, `${key}|ocr_pages`, t.ocrPages);
        bump(want, `${key}|embedding_inputs`, t.embeddingInputs);
      }
      for (const k of Object.keys(got))
        if (k.endsWith('|cost_nano') || k.endsWith('|unpriced')) delete got[k];
      expect(got).toEqual(want);
      const unitTotal = (suffix: string) =>
        Object.entries(want).reduce((n, [k, v]) => (k.endsWith(suffix) ? n + v : n), 0);
      expect(unitTotal('|ocr_pages')).toBe(Object.values(g.truth.groups).reduce((n, x) => n + x.ocrPages, 0));
      expect(unitTotal('|ocr_pages')).toBeGreaterThan(0);
      expect(unitTotal('|embedding_inputs')).toBeGreaterThan(0);
      const records = recordCounts(m);
      expect(records.counted).toBe(2500);
      expect(records.duplicate).toBe(g.truth.decodedRecords - 2500);
    });
  },
);
