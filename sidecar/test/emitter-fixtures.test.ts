/**
 * Each third-party emitter's fixture, captured from the real package driving the real `openai` client
 * against the fake provider (sidecar/test/fixtures/emitters/README.md), decodes to exactly the calls the
 * fake provider answered, as far as the emitter reports them: every call it reported is one request
 * (failed ones `error`, usage-less ones `unknown`), none twice, provider and tokens by type (input, output,
 * cache read, cache write, reasoning) equal to the truth.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine, type UsageRecord } from '../src/decode/index.js';
import { EMITTER_FIXTURE_DIR, EMITTERS, type ExpectedCall, expectedCalls } from './support/emitterTruth.js';

const fixtureLines = (emitter: string) =>
  readFileSync(join(EMITTER_FIXTURE_DIR, `${emitter}.otlp.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

function decodeFixture(emitter: string, lines = fixtureLines(emitter)) {
  const seen = new Set<string>();
  const records: UsageRecord[] = [];
  let rejected = 0;
  let duplicates = 0;
  for (const line of lines) {
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

const key = (c: Omit<ExpectedCall, 'tokens'>, tokens: number[] | null) =>
  `${c.operation} ${c.provider} ${c.model} ${c.status} ${c.usageType}${tokens === null ? '' : ` ${tokens.join('/')}`}`;

describe('third-party emitter fixtures decode to the fake provider truth', () => {
  for (const emitter of Object.keys(EMITTERS)) {
    it(`${emitter}: exact requests, errors and tokens by type`, () => {
      const want = expectedCalls(emitter);
      const { records, rejected, duplicates } = decodeFixture(emitter);
      expect(rejected).toBe(0);
      expect(duplicates).toBe(EMITTERS[emitter]?.recordedTwice ? want.length : 0);
      // The emitter's own tokenizer counts are usage to the decoder (it cannot tell): exact, tokens not compared.
      const emitterCounted = want.filter((w) => w.usageType === 'emitter-count').length;
      const got = records.map((r) => {
        const c = {
          operation: r.operation as ExpectedCall['operation'],
          provider: r.provider as ExpectedCall['provider'],
          model: r.requestModel,
          status: r.status,
          usageType: r.usageType as ExpectedCall['usageType'],
        };
        const t = r.tokens;
        return key(c, [
          t.inputTokens,
          t.outputTokens,
          t.cacheReadInputTokens,
          t.cacheCreationInputTokens,
          t.reasoningOutputTokens,
        ]);
      });
      const exact = want.filter((w) => w.usageType !== 'emitter-count').map((w) => key(w, w.tokens));
      const rest = [...got];
      for (const w of exact) {
        const at = rest.indexOf(w);
        expect(at, `${w} in ${JSON.stringify(got)}`).toBeGreaterThanOrEqual(0);
        rest.splice(at, 1);
      }
      expect(rest).toHaveLength(emitterCounted);
      for (const w of want.filter((x) => x.usageType === 'emitter-count'))
        expect(rest.some((g) => g.startsWith(key({ ...w, usageType: 'exact' }, null)))).toBe(true);
      expect(records).toHaveLength(want.length);
      expect(records.filter((r) => r.status === 'error')).toHaveLength(
        want.filter((w) => w.status === 'error').length,
      );
      expect(new Set(records.map((r) => r.provider))).toEqual(new Set(want.map((w) => w.provider)));
    });
  }
});

type Json = Record<string, unknown>;
const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);

/** Every span of a trace line in an export line of its own (with its resource and scope); log lines as they are. */
function oneSpanPerLine(lines: string[], strip: (span: Json) => Json = (x) => x): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const doc = JSON.parse(line) as Json;
    if (!Array.isArray(doc.resourceSpans)) {
      out.push(line);
      continue;
    }
    for (const rs of list(doc.resourceSpans))
      for (const ss of list(rs.scopeSpans))
        for (const span of list(ss.spans))
          out.push(
            JSON.stringify({ resourceSpans: [{ ...rs, scopeSpans: [{ ...ss, spans: [strip(span)] }] }] }),
          );
  }
  return out;
}

/** The span without the SDK's marks (`tracestate` entry, `spendline.sdk.recorded`): as an older SDK exported it. */
function unmarked(span: Json): Json {
  const { traceState: _ts, ...rest } = span;
  return { ...rest, attributes: list(span.attributes).filter((a) => a.key !== 'spendline.sdk.recorded') };
}

describe('@spendline/sdk beside another instrumentation: the pair in two exports', () => {
  const beside = Object.keys(EMITTERS).filter((e) => e.startsWith('spendline-'));
  it('covers every fixture of the SDK beside another instrumentation', () => {
    expect(beside.sort()).toEqual([
      'spendline-inner-openinference',
      'spendline-inner-openllmetry',
      'spendline-outer-aws-sdk',
      'spendline-outer-openinference',
      'spendline-outer-openllmetry',
    ]);
  });
  for (const emitter of beside) {
    it(`${emitter}: every span in its own export line, each call still counted once (by the SDK's marks)`, () => {
      const want = expectedCalls(emitter).length;
      const whole = decodeFixture(emitter);
      const split = decodeFixture(emitter, oneSpanPerLine(fixtureLines(emitter)));
      expect(whole.records).toHaveLength(want);
      expect(split.records).toHaveLength(want);
      expect(split.records.map((r) => r.dedupKey).sort()).toEqual(
        whole.records.map((r) => r.dedupKey).sort(),
      );
      // Without the marks, the other instrumentation's spans count as calls of their own once split.
      const old = decodeFixture(emitter, oneSpanPerLine(fixtureLines(emitter), unmarked));
      expect(old.records.length).toBeGreaterThan(want);
    });
  }
});

describe("@spendline/sdk's marks are honoured in their exact form only (anything else leaves the span counted)", () => {
  const emitter = 'spendline-outer-openllmetry';
  const counted = (mark: (span: Json) => Json) =>
    decodeFixture(
      emitter,
      oneSpanPerLine(fixtureLines(emitter), (s) => mark(unmarked(s))),
    ).records.length;
  /** Each span's tracestate, built from its own parent span id ('' for a root span). */
  const withTraceState = (ts: (parent: string) => string) =>
    counted((s) => ({ ...s, traceState: ts(String(s.parentSpanId ?? '')) }));
  const withRecorded = (value: Json) =>
    counted((s) => ({ ...s, attributes: [...list(s.attributes), { key: 'spendline.sdk.recorded', value }] }));
  const members = (n: number) => Array.from({ length: n }, (_, i) => `v${i}=x`);

  it('counts the call once with the member naming the span’s parent, among others, or as the boolean attribute', () => {
    const want = expectedCalls(emitter).length;
    expect(withTraceState((p) => `spendline=${p}`)).toBe(want);
    expect(withTraceState((p) => `congo=t61rcWkgMzE, spendline=${p} ,rojo=00f067aa0ba902b7`)).toBe(want);
    expect(withTraceState((p) => `${members(31).join(',')},spendline=${p}`)).toBe(want);
    expect(withTraceState((p) => `spendline=${p.toUpperCase()}`)).toBe(want);
    expect(withRecorded({ boolValue: true })).toBe(want);
  });

  it('counts the other span where the member names another span (sent from outside), is a lookalike, past 32 members, or the attribute is not a true boolean', () => {
    const unmarkedCount = counted((s) => s);
    expect(unmarkedCount).toBeGreaterThan(expectedCalls(emitter).length);
    for (const ts of [
      () => 'spendline=sdk',
      // A caller's (or an upstream service's) span id: propagated to here, it names no parent of these spans.
      () => 'spendline=00f067aa0ba902b7',
      (p: string) => `xspendline=${p}`,
      (p: string) => `spendline=${p}x`,
      (p: string) => `spendline=${p.slice(1)}`,
      (p: string) => `tenant@spendline=${p}`,
      (p: string) => `${members(32).join(',')},spendline=${p}`,
      (p: string) => `huge=${'x'.repeat(200_000)}spendline=${p}`,
    ])
      expect(withTraceState(ts), ts('0123456789abcdef').slice(0, 60)).toBe(unmarkedCount);
    for (const v of [{ stringValue: 'true' }, { intValue: 1 }, { boolValue: false }, {}])
      expect(withRecorded(v), JSON.stringify(v)).toBe(unmarkedCount);
  });
});
