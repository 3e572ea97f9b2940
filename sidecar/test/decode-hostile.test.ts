/**
 * The decoders on hostile or unusual bytes and values: every line yields records or labelled
 * rejections, never a throw, never a wrong count. (The cases that were already right are pinned too.)
 */
import { describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine, decodeUsageJsonlLine } from '../src/decode/index.js';

const NOW_NANOS = '1764500000000000000';
type Attr = { key: string; value: Record<string, unknown> };
const BASE: Attr[] = [
  { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
  { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } },
  { key: 'spendline.usage.id', value: { stringValue: 'u1' } },
  { key: 'gen_ai.usage.output_tokens', value: { intValue: '5' } },
];

function logLine(attrs: Attr[], record: Record<string, unknown> = {}, records = 1): string {
  const one = {
    timeUnixNano: NOW_NANOS,
    observedTimeUnixNano: NOW_NANOS,
    eventName: 'gen_ai.client.inference.operation.details',
    attributes: attrs,
    ...record,
  };
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
        scopeLogs: [{ scope: { name: 'x' }, logRecords: Array.from({ length: records }, () => one) }],
      },
    ],
  });
}

const withInput = (value: Record<string, unknown>) =>
  logLine([...BASE, { key: 'gen_ai.usage.input_tokens', value }]);

function summary(line: string) {
  const o = decodeOtlpJsonLine(line);
  return {
    records: o.records.map((r) => ({ input: r.tokens.inputTokens, ts: r.timestampMs, key: r.dedupKey })),
    rejected: o.rejected.map((r) => r.reason),
    ignored: o.ignored,
  };
}

describe('OTLP lines: bytes around the JSON', () => {
  it('reads a line behind a UTF-8 byte order mark or a hole of NUL bytes', () => {
    const line = withInput({ intValue: '10' });
    for (const prefix of ['\uFEFF', '\0\0\0\0', '\0\uFEFF\0'])
      expect(summary(prefix + line).records).toEqual([{ input: 10, ts: 1764500000000, key: 'u1' }]);
  });

  it('counts nothing for a blank line (a stray newline, a CRLF file): no rejection', () => {
    for (const blank of ['', ' ', '\t', '\r', '  \r'])
      expect(summary(blank)).toEqual({ records: [], rejected: [], ignored: 0 });
  });

  it('rejects every record of a line that is not JSON, by the markers its records carry', () => {
    const good = logLine([...BASE, { key: 'gen_ai.usage.input_tokens', value: { intValue: '1' } }], {}, 7);
    expect(summary(good.slice(0, -3)).rejected).toEqual(Array(7).fill('bad_json'));
    expect(summary('{"gen_ai.x": tru').rejected).toEqual(['bad_json']);
  });

  it('decodes requests run together on one line (a collector killed before its newline, restarted with append)', () => {
    const id = (n: string) => [
      ...BASE.filter((a) => a.key !== 'spendline.usage.id'),
      { key: 'spendline.usage.id', value: { stringValue: n } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '2' } },
    ];
    const [l1, l2, l3] = [logLine(id('r1'), {}, 1), logLine(id('r2'), {}, 1), logLine(id('r3'), {}, 1)];
    expect(summary(l1 + l2 + l3).records.map((r) => r.key)).toEqual(['r1', 'r2', 'r3']);
    // Cut part way through a request: the complete ones count, the cut one is rejected.
    const cut = summary(`${l1.slice(0, l1.lastIndexOf('"attributes"'))}${l2}`);
    expect(cut.records.map((r) => r.key)).toEqual(['r2']);
    expect(cut.rejected).toEqual(['bad_json']);
  });

  it('rejects valid JSON that is not OTLP as one line', () => {
    for (const line of ['[1,2]', '42', '"x"', 'null', 'true', '{}'])
      expect(summary(line).rejected).toEqual(['not_otlp']);
  });

  it('survives nesting 100,000 deep', () => {
    const deep = `{"resourceLogs":[{"gen_ai.x":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`;
    expect(summary(deep)).toEqual({ records: [], rejected: [], ignored: 0 });
  });
});

describe('OTLP token counts', () => {
  it('takes decimal numbers only: hex, binary, octal and padded strings are bad_type, not tokens', () => {
    for (const s of ['0x10', '0b101', '0o17', ' 12', '12 ', '']) {
      expect(summary(withInput({ stringValue: s })).rejected).toEqual(['bad_type']);
    }
    expect(summary(withInput({ doubleValue: '0x10' })).rejected).toEqual(['bad_type']);
    expect(summary(withInput({ stringValue: '12' })).records[0]?.input).toBe(12);
    expect(summary(withInput({ stringValue: '12.0' })).records[0]?.input).toBe(12);
    expect(summary(withInput({ doubleValue: '1e2' })).records[0]?.input).toBe(100);
  });

  it('rejects huge, infinite, NaN, negative and fractional counts by reason', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ intValue: '99999999999999999999999' }, 'bad_type'], // beyond int64
      [{ intValue: '18446744073709551615' }, 'absurd_tokens'],
      [{ intValue: 1e30 }, 'absurd_tokens'],
      [{ doubleValue: 'Infinity' }, 'absurd_tokens'],
      [{ doubleValue: '1e400' }, 'absurd_tokens'],
      [{ doubleValue: 'NaN' }, 'bad_type'],
      [{ doubleValue: '-Infinity' }, 'bad_type'],
      [{ intValue: '-3' }, 'negative_tokens'],
      [{ doubleValue: 2.5 }, 'fractional_tokens'],
      [{ arrayValue: { values: [{ intValue: '3' }] } }, 'bad_type'],
      [{ kvlistValue: { values: [] } }, 'bad_type'],
      [{ bytesValue: 'AAA=' }, 'bad_type'],
      [{ boolValue: true }, 'bad_type'],
      [{ intValue: null }, 'bad_type'],
    ];
    for (const [value, reason] of cases)
      expect([value, summary(withInput(value)).rejected]).toEqual([value, [reason]]);
    // 1e400 as a JSON number parses to Infinity.
    const line = withInput({ intValue: 7 }).replace('"intValue":7', '"intValue":1e400');
    expect(summary(line).rejected).toEqual(['absurd_tokens']);
  });

  it('takes the last of a repeated attribute or JSON key', () => {
    const twice = logLine([
      ...BASE,
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '1' } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '999' } },
    ]);
    expect(summary(twice).records[0]?.input).toBe(999);
    const dupKey = withInput({ intValue: '1' }).replace('"intValue":"1"', '"intValue":"1","intValue":"777"');
    expect(summary(dupKey).records[0]?.input).toBe(777);
  });
});

describe('OTLP timestamps, ids and other attributes', () => {
  it('rejects a zero, negative, non-numeric, unbounded or far-future time as bad_timestamp', () => {
    const attrs = [...BASE, { key: 'gen_ai.usage.input_tokens', value: { intValue: '1' } }];
    for (const ts of ['0', '-1000000000', -1e15, 'abc', '99999999999999999999999', {}]) {
      expect(summary(logLine(attrs, { timeUnixNano: ts, observedTimeUnixNano: undefined })).rejected).toEqual(
        ['bad_timestamp'],
      );
    }
  });

  it('falls back from an empty usage id to the line hash; a mistyped one rejects the record', () => {
    const noId = BASE.filter((a) => a.key !== 'spendline.usage.id');
    const empty = logLine([...noId, { key: 'spendline.usage.id', value: { stringValue: '' } }]);
    expect(summary(empty).records[0]?.key).toMatch(/^line:[0-9a-f]{32}:1$/);
    const arr = logLine([...noId, { key: 'spendline.usage.id', value: { arrayValue: {} } }]);
    expect(summary(arr).rejected).toEqual(['bad_type']);
  });

  it('rejects a cost that is not a finite non-negative USD amount', () => {
    for (const value of [
      { doubleValue: 'Infinity' },
      { doubleValue: -1 },
      { stringValue: 'NaN' },
      { boolValue: true },
    ]) {
      const line = logLine([...BASE, { key: 'spendline.cost.usd', value }]);
      expect(summary(line).rejected).toEqual(['bad_type']);
    }
  });

  it('reads a record with 100,000 attributes', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => ({ key: `x.${i}`, value: { stringValue: 'v' } }));
    const line = logLine([...many, ...BASE, { key: 'gen_ai.usage.input_tokens', value: { intValue: '3' } }]);
    expect(summary(line).records[0]?.input).toBe(3);
  });
});

describe('JSONL usage lines', () => {
  const base = { ts: 1764500000, provider: 'openai', model: 'gpt-4o', id: 'j1' };
  it('reads a line behind a byte order mark or NUL bytes; blank lines count nothing', () => {
    const line = JSON.stringify({ ...base, prompt_tokens: 3, completion_tokens: 1 });
    expect(decodeUsageJsonlLine(`\uFEFF${line}`).records[0]?.tokens.inputTokens).toBe(3);
    expect(decodeUsageJsonlLine(`\0\0${line}`).records[0]?.tokens.inputTokens).toBe(3);
    expect(decodeUsageJsonlLine('\r')).toEqual({ records: [], rejected: [], ignored: 0 });
  });

  it('takes decimal token strings only', () => {
    const bad = decodeUsageJsonlLine(
      JSON.stringify({ ...base, prompt_tokens: '0x10', completion_tokens: 1 }),
    );
    expect(bad.rejected.map((r) => r.reason)).toEqual(['bad_type']);
    const ok = decodeUsageJsonlLine(JSON.stringify({ ...base, prompt_tokens: '16', completion_tokens: 1 }));
    expect(ok.records[0]?.tokens.inputTokens).toBe(16);
  });
});
