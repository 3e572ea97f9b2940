import { usdToNano } from '@spendline/sdk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DecodeOutcome,
  decodeOtlpJsonLine,
  decodeUsageJsonlLine,
  MAX_TOKENS_PER_RECORD,
  REJECT_REASONS,
} from '../src/decode/index.js';
import { usdToNanoOrNull } from '../src/decode/recordValues.js';
import { retypedLines, textMutations } from './support/lineMutations.js';
import { generateUsageLines } from './support/otlpLines.js';

const seedLines = [
  ...generateUsageLines({ records: 12, perLine: 4, seed: 3, kind: 'mixed', withNoise: true }).lines,
  JSON.stringify({
    ts: 1772366400,
    provider: 'openai',
    model: 'm',
    usage: { prompt_tokens: 5, completion_tokens: 2, cost_usd: 0.1 },
  }),
];

/** What every outcome must satisfy, whatever the input: typed records within bounds, known reasons. */
function expectWellFormed(out: DecodeOutcome): void {
  expect(Number.isInteger(out.ignored) && out.ignored >= 0).toBe(true);
  for (const r of out.rejected) expect(REJECT_REASONS).toContain(r.reason);
  for (const r of out.records) {
    const t = r.tokens;
    for (const n of [
      t.inputTokens,
      t.outputTokens,
      t.cacheReadInputTokens,
      t.cacheCreationInputTokens,
      t.reasoningOutputTokens,
      r.ocrPages,
      r.embeddingInputs,
    ]) {
      expect(Number.isInteger(n) && n >= 0 && n <= MAX_TOKENS_PER_RECORD).toBe(true);
    }
    expect(t.cacheReadInputTokens + t.cacheCreationInputTokens).toBeLessThanOrEqual(t.inputTokens);
    expect(t.reasoningOutputTokens).toBeLessThanOrEqual(t.outputTokens);
    expect(r.timestampMs).toBeGreaterThan(0);
    expect(r.provider).not.toBe('');
    expect(r.requestModel || r.responseModel).not.toBe('');
    expect(r.dedupKey).not.toBe('');
    expect(r.emitterCostNanoUsd === null || Number.isSafeInteger(r.emitterCostNanoUsd)).toBe(true);
  }
}

function decodeBoth(text: string): void {
  expectWellFormed(decodeOtlpJsonLine(text));
  expectWellFormed(decodeUsageJsonlLine(text));
}

/** Truncation, deletion, insertion of JSON-ish fragments in valid lines. */
const mutatedLine = textMutations(seedLines, [
  '-1',
  '1.5',
  '"x"',
  'null',
  '[]',
  '{}',
  '1e400',
  '"-7"',
  'true',
  '"9999999999999999999999"',
  '"',
]);

/** Replaces every JSON value of some key in a parsed valid line with an arbitrary JSON value. */
const retypedLine = retypedLines(seedLines, '[A-Za-z]', fc.jsonValue());

describe('decoders never throw and only ever yield well-formed outcomes', () => {
  it('on arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), decodeBoth), { numRuns: 500 });
  });

  it('on arbitrary JSON, bare and wrapped as OTLP attributes', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        decodeBoth(JSON.stringify(v));
        const wrapped = {
          resourceLogs: [
            {
              scopeLogs: [
                {
                  logRecords: [
                    {
                      eventName: 'gen_ai.client.inference.operation.details',
                      attributes: [{ key: 'gen_ai.usage.input_tokens', value: v }],
                      timeUnixNano: v,
                    },
                  ],
                },
              ],
            },
          ],
          resourceSpans: v,
        };
        decodeBoth(JSON.stringify(wrapped));
      }),
      { numRuns: 500 },
    );
  });

  it('on mutated valid lines', () => {
    fc.assert(fc.property(mutatedLine, decodeBoth), { numRuns: 1000 });
  });

  it('on valid lines with one field retyped everywhere', () => {
    fc.assert(fc.property(retypedLine, decodeBoth), { numRuns: 1000 });
  });
});

describe('usdToNanoOrNull', () => {
  it('agrees exactly with usdToNano on every non-negative double and decimal string (fast path included)', () => {
    const viaSdk = (v: number | string) => {
      const m = usdToNano(v);
      return m.ok && m.nano >= 0 ? m.nano : null;
    };
    const doubles = fc.oneof(
      fc.double({ min: 0, max: 2e7, noNaN: true }),
      fc.integer({ min: 0, max: 5_000_000_000 }).map((n) => n / 1e9),
      fc.integer({ min: 0, max: 5_000_000 }).map((n) => n / 1e12),
      fc.double({ noNaN: false }),
    );
    fc.assert(
      fc.property(doubles, (v) => {
        expect(usdToNanoOrNull(v)).toBe(viaSdk(v));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(doubles.map(String), (v) => {
        expect(usdToNanoOrNull(v)).toBe(viaSdk(v));
      }),
      { numRuns: 500 },
    );
    expect([
      usdToNanoOrNull(0.1),
      usdToNanoOrNull(0.0000000015),
      usdToNanoOrNull(0.0000000025),
      usdToNanoOrNull(-0.5),
    ]).toEqual([100_000_000, 2, 2, null]);
  });
});
