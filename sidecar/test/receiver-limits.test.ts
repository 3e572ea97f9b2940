/**
 * The local OTLP receiver under hostile or faulty input: what it acknowledges is what the sidecar
 * counts. Deep nesting is a 400, not a crash; a request bigger than the sidecar's line limit is
 * split between records, and a collector's line over the limit is counted as the records it held;
 * a failed write leaves no partial line and is answered 503 so the exporter retries.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { ATTR, USAGE_EVENT_NAME } from '@spendline/sdk/contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';
import { type RunningReceiver, startOtlpReceiver } from '../src/receiver/index.js';
import { RecordMarkerCounter } from '../src/tail/recordMarkers.js';
import { OtlpLineSplitter } from '../src/tail/splitOtlpLine.js';
import { generateUsageLines } from './support/otlpLines.js';
import { recordCounts, registryTotals, runUntilCaughtUp, truthTotals } from './support/sidecarHarness.js';

let dir: string;
let receiver: RunningReceiver | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-receiver-limits-'));
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const exportPath = () => join(dir, 'export.jsonl');

function nestedValue(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { stringValue: 'x' };
  for (let i = 0; i < depth; i++) v = { kvlistValue: { values: [{ key: 'k', value: v }] } };
  return v;
}

function logsRequest(bodyValue: Record<string, unknown>) {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 's' } }] },
        scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000000000000', body: bodyValue }] }],
      },
    ],
  };
}

const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};

/**
 * ExportLogsServiceRequest bytes whose one log record's body is an AnyValue nested `depth` kvlists
 * deep, written by hand (sizes first, then outside in) because encoders recurse.
 */
function deepProtobuf(depth: number): Uint8Array<ArrayBuffer> {
  // Per level, outermost first: AnyValue.kvlist_value (6) > KeyValueList.values (1) > KeyValue.value (2).
  const inner = [0x0a, 1, 0x78]; // AnyValue { string_value: "x" }
  const key = [0x0a, 1, 0x6b]; // KeyValue.key = "k"
  const sizes: number[] = [inner.length]; // sizes[i]: bytes of the AnyValue i levels above the innermost
  for (let i = 0; i < depth; i++) {
    const any = sizes[i] as number;
    const kv = key.length + 1 + varint(any).length + any;
    const kvl = 1 + varint(kv).length + kv;
    sizes.push(1 + varint(kvl).length + kvl);
  }
  const body = sizes[depth] as number;
  const record = 1 + varint(body).length + body; // LogRecord.body (5)
  const scope = 1 + varint(record).length + record; // ScopeLogs.log_records (2)
  const resource = 1 + varint(scope).length + scope; // ResourceLogs.scope_logs (2)
  const out: number[] = [0x0a, ...varint(resource), 0x12, ...varint(scope), 0x12, ...varint(record)];
  out.push(0x2a, ...varint(body));
  for (let i = depth; i > 0; i--) {
    const any = sizes[i - 1] as number;
    const kv = key.length + 1 + varint(any).length + any;
    const kvl = 1 + varint(kv).length + kv;
    out.push(0x32, ...varint(kvl), 0x0a, ...varint(kv), ...key, 0x12, ...varint(any));
  }
  out.push(...inner);
  return Uint8Array.from(out);
}

describe('JSON nesting', () => {
  it('answers 400 with a reason, not 500, for 10k and 1M levels in JSON and 10k in protobuf', async () => {
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: exportPath() });
    const post = (body: string | Uint8Array<ArrayBuffer>, type: string) =>
      fetch(`${receiver?.url}/v1/logs`, { method: 'POST', headers: { 'content-type': type }, body });
    for (const depth of [10_000, 1_000_000]) {
      const arrays = `{"resourceLogs":[${'['.repeat(depth)}${']'.repeat(depth)}]}`;
      const objects = `{"resourceLogs":[{"resource":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}]}`;
      for (const body of [arrays, objects]) {
        const res = await post(body, 'application/json');
        expect(res.status).toBe(400);
        expect(((await res.json()) as { message: string }).message).toMatch(/nested deeper than 256/);
      }
    }
    const shallow = await post(deepProtobuf(3), 'application/x-protobuf');
    expect(shallow.status).toBe(200); // the hand-written encoding is valid
    const res = await post(deepProtobuf(10_000), 'application/x-protobuf');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^invalid protobuf/);
    // A legitimately nested body (a few levels of kvlist) is still accepted.
    const ok = await post(JSON.stringify(logsRequest(nestedValue(20))), 'application/json');
    expect(ok.status).toBe(200);
    expect(readFileSync(exportPath(), 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
  });
});

const MiB = 1024 * 1024;
const fileLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

describe('requests bigger than the sidecar reads in one line', () => {
  it('a 17.6 MiB request (15,500 records) through the real receiver is acknowledged and every record is counted', async () => {
    const g = generateUsageLines({ records: 15_500, perLine: 15_500, seed: 21 });
    expect(g.lines).toHaveLength(1);
    const body = g.lines[0] as string;
    expect(Buffer.byteLength(body)).toBeGreaterThan(17.5 * MiB);
    expect(Buffer.byteLength(body)).toBeLessThan(20 * MiB); // the receiver's (and collector's) body limit
    const otlpDir = join(dir, 'otlp');
    mkdirSync(otlpDir);
    const path = join(otlpDir, 'export.jsonl');
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: path });
    const res = await fetch(`${receiver.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).toBe(200);
    const written = fileLines(path);
    expect(written.length).toBeGreaterThanOrEqual(2);
    for (const line of written) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(16 * MiB);
    expect(receiver.stats()).toMatchObject({ accepted: 1, linesWritten: written.length });

    const m = await runUntilCaughtUp(join(dir, 'state'), { otlpGlobs: [path], maxLineBytes: 16 * MiB });
    expect(registryTotals(m)).toEqual(truthTotals(g.truth));
    expect(recordCounts(m)).toEqual({ counted: 15_500 });
  }, 120_000);

  it("decodes a collector's lines over --max-line-bytes record by record, as they stream past", async () => {
    const spans = generateUsageLines({ records: 1_500, perLine: 1_500, seed: 22, kind: 'spans' });
    const logs = generateUsageLines({ records: 1_500, perLine: 1_500, seed: 23 });
    const small = generateUsageLines({ records: 10, perLine: 5, seed: 24, startMs: Date.UTC(2026, 1, 1) });
    const path = join(dir, 'genai.json');
    // As the collector's file exporter writes: one line per export request, whatever its size.
    writeFileSync(path, [spans.lines[0], ...small.lines, logs.lines[0], ''].join('\n'));
    const longest = Math.max(...[spans, logs].map((g) => Buffer.byteLength(g.lines[0] as string)));
    const maxLineBytes = Math.floor(longest / 3); // both lines are over it; their records fit the output cap
    expect(Buffer.byteLength(logs.lines[0] as string)).toBeGreaterThan(maxLineBytes);
    const m = await runUntilCaughtUp(join(dir, 'state'), { otlpGlobs: [path], maxLineBytes });
    expect(registryTotals(m)).toEqual(truthTotals(spans.truth, logs.truth, small.truth));
    expect(recordCounts(m)).toEqual({ counted: 3_010, ignored: spans.truth.ignored });
  }, 60_000);

  it('counts the records past the decode cap (4 x --max-line-bytes) as line_too_long, each one', async () => {
    const logs = generateUsageLines({ records: 2_000, perLine: 2_000, seed: 26 });
    const line = logs.lines[0] as string;
    const path = join(dir, 'genai.json');
    writeFileSync(path, `${line}\n`);
    const m = await runUntilCaughtUp(join(dir, 'state'), {
      otlpGlobs: [path],
      maxLineBytes: Math.floor(Buffer.byteLength(line) / 8),
    });
    const counts = recordCounts(m);
    expect(counts.counted).toBeGreaterThan(0);
    expect(counts.rejected).toBeGreaterThan(0);
    expect((counts.counted ?? 0) + (counts.rejected ?? 0)).toBe(2_000);
    expect(m.counters.rejected.total(['line_too_long'])).toBe(counts.rejected);
    expect(m.counters.records.total(['log', 'rejected'])).toBe(counts.rejected);
  }, 60_000);

  it('a 17.6 MiB line written by a collector is counted in full', async () => {
    const g = generateUsageLines({ records: 15_500, perLine: 15_500, seed: 21 });
    const path = join(dir, 'genai.json');
    writeFileSync(path, `${g.lines[0]}\n`);
    const m = await runUntilCaughtUp(join(dir, 'state'), { otlpGlobs: [path], maxLineBytes: 16 * MiB });
    expect(registryTotals(m)).toEqual(truthTotals(g.truth));
    expect(recordCounts(m)).toEqual({ counted: 15_500 });
  }, 120_000);

  it('cuts out the same records as the decoder reads from the whole line, whatever the chunking', () => {
    const g = generateUsageLines({ records: 60, perLine: 30, seed: 27, kind: 'mixed', withNoise: true });
    const summary = (lines: string[]) =>
      lines
        .flatMap((l) => decodeOtlpJsonLine(l).records)
        .map((r) => [r.dedupKey, r.service, r.provider, r.requestModel, r.tokens.inputTokens, r.timestampMs]);
    for (const line of g.lines) {
      const expected = summary([line]);
      for (const size of [1, 13, 4096, 1 << 20]) {
        const splitter = new OtlpLineSplitter(1 << 20, 1 << 30);
        const buf = Buffer.from(line);
        for (let i = 0; i < buf.length; i += size) splitter.feed(buf.subarray(i, i + size));
        splitter.finish();
        expect(summary(splitter.lines)).toEqual(expected);
        const ignored = (ls: string[]) => ls.reduce((a, l) => a + decodeOtlpJsonLine(l).ignored, 0);
        if (splitter.emitted > 0) expect(ignored(splitter.lines)).toBe(ignored([line]));
      }
    }
  });

  it('never throws on hostile long lines: 64 MiB of nesting (given up at depth 256), corruption, truncation', () => {
    const deep = new OtlpLineSplitter(1 << 20, 1 << 22);
    for (let i = 0; i < 64; i++) deep.feed(Buffer.alloc(1 << 20, 0x5b)); // 64 MiB of '['
    deep.finish();
    expect(deep.lines).toEqual([]);
    const g = generateUsageLines({ records: 50, perLine: 50, seed: 28, kind: 'mixed' });
    let seed = 7;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const buf = Buffer.from(g.lines[round % g.lines.length] as string);
      for (let k = 0; k < 1 + rand(20); k++) buf[rand(buf.length)] = '{}[]",:\\x'.charCodeAt(rand(10));
      const cut = buf.subarray(0, buf.length - rand(buf.length));
      const splitter = new OtlpLineSplitter(1 << 20, 1 << 22);
      for (let i = 0; i < cut.length; ) {
        const n = 1 + rand(5000);
        splitter.feed(cut.subarray(i, i + n));
        i += n;
      }
      splitter.finish();
      // What it cuts out goes to the ordinary decoder, which never throws either.
      for (const line of splitter.lines) decodeOtlpJsonLine(line);
    }
  });

  it('counts record markers the same whatever the chunking', () => {
    const g = generateUsageLines({ records: 40, perLine: 40, seed: 25, kind: 'mixed' });
    for (const line of g.lines) {
      const whole = new RecordMarkerCounter();
      whole.feed(Buffer.from(line));
      for (const size of [1, 7, 16, 1000]) {
        const chunked = new RecordMarkerCounter();
        const buf = Buffer.from(line);
        for (let i = 0; i < buf.length; i += size) chunked.feed(buf.subarray(i, i + size));
        expect(chunked.result()).toEqual(whole.result());
      }
    }
    const counter = new RecordMarkerCounter();
    counter.feed(Buffer.from(g.lines.find((l) => l.startsWith('{"resourceLogs"')) as string));
    expect(counter.result()).toEqual({ signal: 'logs', records: 40 });
  });
});

describe('a failed write to the export file', () => {
  it('leaves no partial line, answers 503, and the real exporter retry is counted with everything after it', async () => {
    const path = join(dir, 'export.jsonl');
    // A disk that fills up in the middle of one write: part of the buffer lands, then ENOSPC.
    let failNext = false;
    const disk = (fd: number, buffer: Buffer, offset: number): number => {
      if (failNext) {
        failNext = false;
        writeSync(fd, buffer, offset, Math.floor((buffer.length - offset) / 2));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return writeSync(fd, buffer, offset);
    };
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: path, writeSync: disk });
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout' }),
      processors: [
        new BatchLogRecordProcessor({
          exporter: new OTLPLogExporter({ url: `${receiver.url}/v1/logs` }),
          scheduledDelayMillis: 10,
        }),
      ],
    });
    const logger = provider.getLogger('t');
    const emit = (from: number, n: number) => {
      for (let i = from; i < from + n; i++) {
        logger.emit({
          eventName: USAGE_EVENT_NAME,
          attributes: {
            [ATTR.operationName]: 'chat',
            [ATTR.providerName]: 'openai',
            [ATTR.requestModel]: 'gpt-4o-mini',
            [ATTR.inputTokens]: 100,
            [ATTR.outputTokens]: 10,
            [ATTR.usageId]: `u-${i}`,
          },
        });
      }
    };
    emit(0, 100);
    await provider.forceFlush();
    failNext = true;
    emit(100, 100); // its first attempt tears; the exporter retries on 503
    await provider.forceFlush();
    expect(failNext).toBe(false);
    emit(200, 100);
    await provider.forceFlush();
    await provider.shutdown();

    const text = readFileSync(path, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(receiver.stats().writeFailures).toBe(1);
    const m = await runUntilCaughtUp(join(dir, 'state'), { otlpGlobs: [path] });
    expect(recordCounts(m)).toEqual({ counted: 300 });
    expect(m.counters.requests.total(['openai', 'gpt-4o-mini', 'checkout', 'chat', 'ok'])).toBe(300);
  }, 60_000);
});
