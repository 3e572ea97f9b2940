/**
 * The log-line scanner (src/decode/otlpLogScan.ts) against JSON.parse: for any line, decoding with the
 * scanner gives exactly the outcome decoding with JSON.parse gives (records, rejections, ignored; every
 * field, in order). The scanner must either take a line whole and read it as JSON.parse would, or
 * decline it. The lines: every emitter and collector fixture, generated fleet lines, and lines
 * mutated as text and as JSON (other types, duplicate keys, spaces, reordered members, escapes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DecodeOutcome, decodeOtlpJsonLine } from '../src/decode/index.js';
import { decodeOtlpJsonLineByParse } from '../src/decode/otlpLine.js';
import { type LogLineSink, scanOtlpLogsLine } from '../src/decode/otlpLogScan.js';
import { UsageDraft } from '../src/decode/usageDraft.js';
import { retypedLines, textMutations } from './support/lineMutations.js';
import { generateUsageLines } from './support/otlpLines.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

function fixtureLines(): string[] {
  const lines: string[] = [];
  for (const dir of ['emitters', 'collector']) {
    for (const name of readdirSync(join(FIXTURES, dir))) {
      if (!/\.(jsonl|json)$/.test(name) || name.endsWith('.truth.json')) continue;
      const text = readFileSync(join(FIXTURES, dir, name), 'utf8');
      const parts = name.endsWith('.jsonl') ? text.split('\n') : [text.replace(/\s*\n\s*/g, ' ')];
      for (const l of parts) if (l.trim() !== '') lines.push(l);
    }
  }
  return lines;
}

const generated = [
  ...generateUsageLines({ records: 60, perLine: 6, seed: 11, shape: 'correlated', withSessions: true }).lines,
  ...generateUsageLines({ records: 40, perLine: 5, seed: 12, kind: 'mixed', withNoise: true }).lines,
  ...generateUsageLines({ records: 30, perLine: 3, seed: 13, kind: 'spans' }).lines,
];
const fixtures = fixtureLines();
/** Short logs lines to mutate: the scanner's own input, a few records each. */
const seeds = [...generated, ...fixtures].filter((l) => l.includes('"resourceLogs"') && l.length < 20_000);

// biome-ignore lint/suspicious/noControlCharactersInRegex: lines with control characters are left to JSON.parse
const NOT_PLAIN = /[\\\u0000-\u001f]/;
/** Checks `runs` lines of `lines` decode the same both ways; how many the scanner took. */
function sameOutcomes(lines: fc.Arbitrary<string>, runs: number): number {
  let taken = 0;
  fc.assert(
    fc.property(lines, (line) => {
      if (scannerTakes(line)) taken++;
      expectSameOutcome(line);
    }),
    { numRuns: runs },
  );
  return taken;
}

const noSink: LogLineSink = { record() {} };

/** Whether the scanner takes the line (rather than leaving it to JSON.parse). */
function scannerTakes(line: string): boolean {
  return scanOtlpLogsLine(line, new UsageDraft(), noSink);
}

function expectSameOutcome(line: string): void {
  const scanned: DecodeOutcome = decodeOtlpJsonLine(line);
  const parsed: DecodeOutcome = decodeOtlpJsonLineByParse(line);
  expect(scanned).toStrictEqual(parsed);
}

describe('the log-line scanner decodes exactly as JSON.parse does', () => {
  it('on every fixture line and generated line, taking the collector-shaped logs lines itself', () => {
    for (const line of [...fixtures, ...generated]) expectSameOutcome(line);
    // Not vacuous: the generated fleet lines (the collector's shape) are the scanner's, all of them.
    const logs = generated.filter((l) => l.includes('"resourceLogs"') && !l.includes('"resourceSpans"'));
    expect(logs.length).toBeGreaterThan(10);
    for (const line of logs) expect(scannerTakes(line)).toBe(true);
    // And so are the real emitters' log lines without escapes (the collector's file export).
    const plainFixtureLogs = fixtures.filter(
      (l) => l.startsWith('{"resourceLogs"') && !NOT_PLAIN.test(l) && !l.includes('"resourceSpans"'),
    );
    expect(plainFixtureLogs.filter(scannerTakes).length).toBe(plainFixtureLogs.length);
  });

  it('declines what it does not take whole: spans, escapes, control characters, invalid JSON', () => {
    const line = generated.find((l) => l.includes('"resourceLogs"')) as string;
    expect(scannerTakes(line)).toBe(true);
    for (const declined of [
      line.replace('"stringValue":"', '"stringValue":"\\u0041'),
      line.replace('"stringValue":"', '"stringValue":"\t'),
      `${line.slice(0, -1)},"resourceSpans":[]}`,
      `${line.slice(0, -1)},"resourceLogs":[]}`,
      line.slice(0, -1),
      `${line}x`,
      line.replace('"attributes":[', '"attributes":[],"attributes":['),
      line.replace('"stringValue":"', '"stringValue":"x","stringValue":"'),
      line.replace(/("gen_ai\.usage\.input_tokens","value":\{"intValue":"\d+")/, '$1,"arrayValue":{}'),
      line.replace('{"key":"', '{"key":5,"k":"'),
      line.replace('"scope":{', '"scope":{"name":1,'),
    ]) {
      expect(scannerTakes(declined), declined.slice(0, 600)).toBe(false);
      expectSameOutcome(declined);
    }
  });

  it('reads members in any order, with spaces, unknown members and values of every JSON type', () => {
    const line = generated.find((l) => l.includes('"resourceLogs"')) as string;
    const spaced = JSON.stringify(JSON.parse(line), null, 1).replace(/\n/g, ' ');
    expect(scannerTakes(spaced)).toBe(true);
    expectSameOutcome(spaced);
    const reordered = JSON.stringify(JSON.parse(line), (_k, v) =>
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v as object).reverse())
        : v,
    );
    expectSameOutcome(reordered);
    const extra = line
      .replaceAll('{"key":"', '{"x":[1,{"y":null}],"key":"')
      .replaceAll('"flags":', '"z":-0.5e-3,"flags":');
    expect(scannerTakes(extra)).toBe(true);
    expectSameOutcome(extra);
  });

  it('takes the last of a key given twice, as JSON.parse does, or declines; and needs resource and scope first', () => {
    const kv = (k: string, v: string) => `{"key":"${k}","value":${v}}`;
    const str = (v: string) => `{"stringValue":"${v}"}`;
    const int = (n: number) => `{"intValue":"${n}"}`;
    const attrs = [
      kv('gen_ai.provider.name', str('openai')),
      kv('gen_ai.request.model', str('gpt-4o')),
      kv('gen_ai.usage.input_tokens', int(100)),
      kv('gen_ai.usage.output_tokens', int(20)),
      kv('spendline.usage.id', str('u-1')),
    ];
    const record = (a: string[] = attrs) =>
      `{"timeUnixNano":"1767225600020392568","eventName":"gen_ai.client.inference.operation.details","attributes":[${a.join(',')}],"flags":1}`;
    const anonymous = record(attrs.slice(0, 4)).replace(
      '"flags":1',
      '"flags":1,"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"',
    );
    const scopeName = '"scope":{"name":"@spendline/sdk"}';
    const records = (r = record()) => `"logRecords":[${r}]`;
    const scope = (members = [scopeName, records()]) => `{${members.join(',')}}`;
    const resourceOf = (svc: string) => `"resource":{"attributes":[${kv('service.name', str(svc))}]}`;
    const scopes = (list = [scope()]) => `"scopeLogs":[${list.join(',')}]`;
    const line = (members: string[]) => `{"resourceLogs":[{${members.join(',')}}]}`;
    const base = line([resourceOf('svc'), scopes()]);
    expect(scannerTakes(base)).toBe(true);
    expect(decodeOtlpJsonLine(base).records).toHaveLength(1);
    const cases = [
      line([scopes(), resourceOf('svc')]),
      line([resourceOf('a'), resourceOf('b'), scopes()]),
      line([resourceOf('svc'), scopes(), scopes([])]),
      line([resourceOf('svc'), scopes([]), scopes()]),
      line([resourceOf('svc'), scopes([scope([scopeName, records(), '"logRecords":[]'])])]),
      line([resourceOf('svc'), scopes([scope([scopeName, '"logRecords":[]', records()])])]),
      line([resourceOf('svc'), scopes([scope([records(), scopeName])])]),
      // Without a usage id the scope decides: another emitter's event in a sampled span is not counted.
      line([resourceOf('svc'), scopes([scope([records(anonymous), scopeName])])]),
      line([resourceOf('svc'), scopes([scope([scopeName, records(anonymous)])])]),
      line([resourceOf('svc'), scopes([scope([scopeName, '"scope":{"name":"other"}', records()])])]),
      line([
        '"resource":{"attributes":[],"attributes":[{"key":"service.name","value":{"stringValue":"b"}}]}',
        scopes(),
      ]),
      line([
        `"resource":{"attributes":[${kv('service.name', str('a'))},${kv('service.name', '[]')}]}`,
        scopes(),
      ]),
      line([`"resource":{"attributes":[${kv('service.name', '"svc"')}]}`, scopes()]),
      line([
        '"resource":{"attributes":[{"key":"service.name","key":"x","value":{"stringValue":"a"}}]}',
        scopes(),
      ]),
      line([
        '"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"},"value":{"stringValue":"b"}}]}',
        scopes(),
      ]),
      ...[
        '{"key":"gen_ai.usage.input_tokens","key":"x","value":{"intValue":"5"}}',
        '{"key":"x","key":"gen_ai.usage.input_tokens","value":{"intValue":"5"}}',
        '{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5"},"value":{"intValue":"7"}}',
        '{"value":{"intValue":"5"},"key":"gen_ai.usage.input_tokens"}',
        '{"key":"gen_ai.usage.input_tokens","value":5}',
        '{"key":"gen_ai.usage.input_tokens"}',
        '{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5","intValue":"6"}}',
        '{"key":"gen_ai.usage.input_tokens","value":{"intValue":"5","kvlistValue":{}}}',
        '{"key":"unknown.key","value":{"intValue":{"deep":[1]}}}',
      ].map((a) => line([resourceOf('svc'), scopes([scope([scopeName, records(record([...attrs, a]))])])])),
    ];
    for (const c of cases) expectSameOutcome(c);
  });

  it('checks numbers and literals against the JSON grammar wherever they stand', () => {
    const line = generated.find((l) => l.includes('"gen_ai.usage.input_tokens"')) as string;
    const valid = [
      '0',
      '-0',
      '1',
      '-1',
      '1.5',
      '1e3',
      '1E+3',
      '1e-3',
      '-0.0',
      '12345678901234567890123',
      '1e400',
      'true',
      'false',
      'null',
    ];
    const invalid = [
      '01',
      '-01',
      '1.',
      '.5',
      '+1',
      '1e',
      '1e+',
      '--1',
      '0x10',
      'Infinity',
      'NaN',
      '-',
      '1.5.5',
      'tru',
      'nul',
      'True',
      'fals',
      '1 2',
    ];
    const places = [
      (x: string) => line.replace(/"flags":\d+/, `"flags":${x}`),
      (x: string) =>
        line.replace(/("gen_ai\.usage\.input_tokens","value":\{)"intValue":"\d+"/, `$1"intValue":${x}`),
      (x: string) =>
        line.replace(/("gen_ai\.usage\.input_tokens","value":\{)"intValue":"\d+"/, `$1"doubleValue":${x}`),
      (x: string) => line.replace('"flags":', `"unread":${x},"flags":`),
      (x: string) => line.replace('"flags":', `"unread":[${x}],"flags":`),
    ];
    for (const place of places) {
      expect(place('77')).not.toBe(line);
      for (const x of valid) {
        const l = place(x);
        expect(scannerTakes(l), l.slice(0, 300)).toBe(true);
        expectSameOutcome(l);
      }
      for (const x of invalid) {
        const l = place(x);
        expect(scannerTakes(l), x).toBe(false);
        expectSameOutcome(l);
      }
    }
  });

  it('on lines mutated as text', () => {
    const mutated = textMutations(seeds, [
      ' ',
      ',',
      '}',
      ']',
      '{',
      '[',
      ':',
      '"',
      '\\"',
      '\\u0041',
      '-1',
      '01',
      '1.',
      '1.5e+3',
      '-0',
      'null',
      'tru',
      'true',
      '[]',
      '{}',
      '"x"',
      '"attributes":[],',
      '"eventName":"gen_ai.client.inference.operation.details",',
      '"key":"session.id",',
      '"value":{"stringValue":"s"},',
      '"stringValue":"dup",',
      '"intValue":7,',
      '"doubleValue":"NaN",',
      '"boolValue":true,',
      '"arrayValue":{"values":[]},',
      '"scope":{"name":"x"},',
      '"resource":{},',
      '"logRecords":[{}],',
      '"scopeLogs":[],',
      '"traceId":"0af7651916cd43dd8448eb211c80319c",',
    ]);
    const taken = sameOutcomes(mutated, 3000);
    // Not only lines it declines: many mutations leave valid lines (spaces, values, members) it takes.
    expect(taken).toBeGreaterThan(300);
  });

  it('on lines with one field given other values (every occurrence)', () => {
    const retyped = retypedLines(seeds, '[A-Za-z_.]', fc.jsonValue({ maxDepth: 2 }));
    const taken = sameOutcomes(retyped, 1500);
    expect(taken).toBeGreaterThan(300);
  });

  it('keeps nothing that holds the line alive (V8 cuts long strings as slices of their parent)', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const line = generated.find((l) => l.includes('"resourceLogs"')) as string;
    // The same records with a 1 MiB body each line, which nothing reads: kept records must not keep it.
    const padded = line.replace('"flags":', `"body":{"stringValue":"${'p'.repeat(1 << 20)}"},"flags":`);
    expect(scannerTakes(padded)).toBe(true);
    const kept: DecodeOutcome[] = [];
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 64; i++) kept.push(decodeOtlpJsonLine(`${padded} `.slice(0, -1)));
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(kept.every((o) => o.records.length > 0)).toBe(true);
    // 64 lines of over 1 MiB each: kept alive they would be 64+ MiB; the records themselves are small.
    expect(grown).toBeLessThan(16 << 20);
  });
});
