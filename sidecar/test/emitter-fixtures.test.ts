/**
 * Each third-party emitter's fixture, captured from the real package driving the real `openai` client
 * against the fake provider (sidecar/test/fixtures/emitters/README.md), decodes to exactly the calls the
 * fake provider answered (its `<emitter>.truth.json`), as far as the emitter reports them: every call it
 * reported is one request (failed ones `error`, usage-less ones `unknown`), none twice.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';

const DIR = join(import.meta.dirname, 'fixtures', 'emitters');

interface TruthCall {
  path: string;
  model: string;
  stream: boolean;
  status: number;
  usage: { inputTokens: number; outputTokens: number; cachedTokens: number; reasoningTokens: number } | null;
}

/** What an emitter reports of a call (from its fixture's README and docs/emitters.md). */
interface Reports {
  /** Whether the emitter reports this HTTP call at all (index = position in the truth). */
  call(c: TruthCall, index: number, all: TruthCall[]): boolean;
  cached: boolean;
  reasoning: boolean;
  /** Usage of streams that carried it. */
  streamUsage: boolean;
}

const all = () => true;
const EMITTERS: Record<string, Reports> = {
  // Tool loop (2 calls in one generateText), Responses API, 2 streams, embedMany, a 429, a 500 retried once.
  'vercel-ai-6': { call: all, cached: true, reasoning: true, streamUsage: true },
  // Its chat span wraps the SDK's retries: the 500 retried once is one reported call.
  'vercel-ai-7': {
    call: (c, i, calls) => !(c.status === 500 && calls[i - 1]?.status === 500),
    cached: true,
    reasoning: false,
    streamUsage: true,
  },
  'otel-instrumentation-openai': { call: all, cached: false, reasoning: false, streamUsage: true },
  // openai 4 (its supported range): no Responses API call in its scenario.
  elastic: { call: all, cached: false, reasoning: false, streamUsage: true },
  // No embeddings span, no span for failed calls; streams without usage.
  openllmetry: {
    call: (c) => c.status === 200 && c.path !== '/v1/embeddings',
    cached: false,
    reasoning: false,
    streamUsage: false,
  },
  // No span for failed calls; streams and embeddings without usage.
  openinference: { call: (c) => c.status === 200, cached: true, reasoning: true, streamUsage: false },
  openlit: { call: all, cached: true, reasoning: false, streamUsage: true },
};

function summary(op: string, model: string, status: string, usageType: string, t: number[]): string {
  return `${op} ${model} ${status} ${usageType} ${t.join('/')}`;
}

function expected(truth: TruthCall[], r: Reports): string[] {
  return truth
    .filter((c, i) => r.call(c, i, truth))
    .map((c) => {
      const op = c.path === '/v1/embeddings' ? 'embeddings' : 'chat';
      const status = c.status === 200 ? 'ok' : 'error';
      const u = c.usage;
      const embedUsageMissing = op === 'embeddings' && r === EMITTERS.openinference;
      if (u === null || (c.stream && !r.streamUsage) || embedUsageMissing)
        return summary(op, c.model, status, 'unknown', [0, 0, 0, 0]);
      return summary(op, c.model, status, 'exact', [
        u.inputTokens,
        u.outputTokens,
        r.cached ? u.cachedTokens : 0,
        r.reasoning ? u.reasoningTokens : 0,
      ]);
    })
    .sort();
}

function decodeFixture(emitter: string) {
  const seen = new Set<string>();
  const records = [];
  let rejected = 0;
  let duplicates = 0;
  for (const line of readFileSync(join(DIR, `${emitter}.otlp.jsonl`), 'utf8').split('\n')) {
    if (line === '') continue;
    const out = decodeOtlpJsonLine(line);
    rejected += out.rejected.length;
    for (const rec of out.records) {
      if (seen.has(rec.dedupKey)) duplicates++;
      else records.push(rec);
      seen.add(rec.dedupKey);
    }
  }
  return { records, rejected, duplicates };
}

describe('third-party emitter fixtures decode to the fake provider truth', () => {
  for (const [emitter, reports] of Object.entries(EMITTERS)) {
    it(`${emitter}: exact requests, errors and tokens by type`, () => {
      const truth = JSON.parse(readFileSync(join(DIR, `${emitter}.truth.json`), 'utf8')) as TruthCall[];
      const { records, rejected, duplicates } = decodeFixture(emitter);
      expect(rejected).toBe(0);
      expect(duplicates).toBe(0);
      let got = records.map((r) =>
        summary(r.operation, r.requestModel, r.status, r.usageType, [
          r.tokens.inputTokens,
          r.tokens.outputTokens,
          r.tokens.cacheReadInputTokens,
          r.tokens.reasoningOutputTokens,
        ]),
      );
      let want = expected(truth, reports);
      if (emitter === 'openlit') {
        // OpenLIT counts a stream without usage with its own tokenizer and reports that as usage: the
        // count cannot match the provider's (which sent none); the call itself must still be there once.
        const streamsWithout = truth.filter((c) => c.stream && c.usage === null).length;
        expect(streamsWithout).toBe(1);
        const estimated = records.filter(
          (r) => r.usageType === 'exact' && r.tokens.cacheReadInputTokens === 0 && r.operation === 'chat',
        );
        expect(estimated).toHaveLength(1);
        const drop = (list: string[], s: string) => list.filter((x, i) => i !== list.indexOf(s));
        got = drop(
          got,
          got.find((g) =>
            g.includes(`${estimated[0]?.tokens.inputTokens}/${estimated[0]?.tokens.outputTokens}/0/0`),
          ) ?? '',
        );
        want = drop(want, 'chat gpt-4o-mini ok unknown 0/0/0/0');
      }
      expect(got.sort()).toEqual(want);
      expect(records.every((r) => r.provider === 'openai')).toBe(true);
      const errors = truth.filter((c, i) => reports.call(c, i, truth) && c.status !== 200).length;
      expect(records.filter((r) => r.status === 'error')).toHaveLength(errors);
    });
  }
});
