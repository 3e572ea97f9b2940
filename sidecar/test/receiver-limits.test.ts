/**
 * The local OTLP receiver under hostile or faulty input: what it acknowledges is what the sidecar
 * counts. Deep nesting is a 400, not a crash.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningReceiver, startOtlpReceiver } from '../src/receiver/index.js';

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
function deepProtobuf(depth: number): Uint8Array {
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
    const post = (body: string | Uint8Array, type: string) =>
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
