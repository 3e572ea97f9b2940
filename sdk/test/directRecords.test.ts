import { logs } from '@opentelemetry/api-logs';
import { describe, expect, it, vi } from 'vitest';
import { ATTR, SDK_SCOPE_NAME, USAGE_EVENT_NAME } from '../src/contract.js';
import {
  type LLMUsageInput,
  recordLLMUsage,
  startTelemetry,
  type TelemetryHandle,
  withUsageContext,
} from '../src/index.js';
import { activeRuntime } from '../src/telemetry/runtime.js';
import { startTelemetryOnFirstRecord } from '../src/telemetry/startTelemetry.js';
import { SDK_VERSION } from '../src/version.js';
import { comparableExport, MANUAL_CALLS, pipelineFixtures } from './support/directPath.js';
import { flattenAttributes, type OtlpReceiver } from './support/otlpReceiver.js';

// Usage records skip `Logger.emit` into spendline's own export queue where that is safe
// (src/telemetry/directRecords.ts). These tests hold the exported OTLP of that path to the logger's.

const { cleanups, receiver, start } = pipelineFixtures();

/** Direct records queued by the running telemetry (undefined: the path is off). */
function directCount(): number | undefined {
  return activeRuntime()?.directRecords?.emitted;
}

const CALLS: LLMUsageInput[] = [
  ...MANUAL_CALLS,
  {
    provider: 'openai',
    model: 'no-such-model-x',
    inputTokens: 3,
    outputTokens: 4,
    attributes: { 'app.step': 'plan' },
  },
];

/** Records the same calls, each in its own usage context; returns the exported logs requests. */
async function recordAll(r: OtlpReceiver, t: TelemetryHandle): Promise<unknown[]> {
  for (const [i, call] of CALLS.entries())
    withUsageContext({ userId: `u-${i}`, sessionId: `s-${i}`, feature: 'chat' }, () => {
      expect(recordLLMUsage(call).ok).toBe(true);
    });
  await t.forceFlush();
  return r.bodies.logs;
}

type Json = Record<string, unknown>;

/** The log records of the first resource and scope of an OTLP/JSON logs request. */
function firstScopeRecords(request: unknown): Json[] {
  const resourceLogs = (request as Json).resourceLogs as Json[];
  const scopeLogs = (resourceLogs[0] as Json).scopeLogs as Json[];
  return (scopeLogs[0] as Json).logRecords as Json[];
}

/** The exported logs with what differs between any two runs (times, trace and span ids, usage ids, the host) blanked. */
const comparable = (requests: unknown[]) =>
  comparableExport(requests, new Set<string>([ATTR.usageId, 'host.name']));

describe('usage records queued directly', () => {
  for (const protocol of ['http/json', 'http/protobuf'] as const) {
    it(`export exactly what the logger exports (${protocol}): resource, scope, attributes, severity, trace context`, async () => {
      const env = { OTEL_EXPORTER_OTLP_PROTOCOL: protocol };
      const fastReceiver = await receiver();
      const fast = start(fastReceiver, env);
      const fastLogs = await recordAll(fastReceiver, fast);
      // The first record goes through the logger (it shows the records' resource and scope); the rest skip it.
      expect(directCount()).toBe(CALLS.length - 1);
      await fast.shutdown();

      // Any OpenTelemetry log record limit sends every record through the logger (here one that changes nothing).
      const viaLogger = await receiver();
      const slow = start(viaLogger, { ...env, OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '128' });
      const slowLogs = await recordAll(viaLogger, slow);
      expect(directCount()).toBeUndefined();

      // One export request, one resource, one scope: direct records share the logger's resource and scope.
      expect(fastLogs).toHaveLength(1);
      const resourceLogs = (fastLogs[0] as Json).resourceLogs as Json[];
      expect(resourceLogs).toHaveLength(1);
      expect(resourceLogs[0]?.scopeLogs as Json[]).toHaveLength(1);
      const records = firstScopeRecords(fastLogs[0]);
      expect(records).toHaveLength(CALLS.length);
      expect(comparable(fastLogs)).toEqual(comparable(slowLogs));
      // Each record carries its own span's context and its own timestamp.
      const spanIds = new Set(records.map((x) => x.spanId));
      expect(spanIds.size).toBe(CALLS.length);
      for (const x of records) expect(String(x.timeUnixNano)).toMatch(/^[1-9]\d{18}$/);
    });
  }

  it('a record with more attributes than a log record may carry goes through the logger, which bounds them', async () => {
    const r = await receiver();
    const t = start(r);
    expect(recordLLMUsage(CALLS[0] as LLMUsageInput).ok).toBe(true);
    const attributes = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`app.extra_${i}`, i]));
    expect(recordLLMUsage({ ...(CALLS[1] as LLMUsageInput), attributes }).ok).toBe(true);
    expect(directCount()).toBe(0);
    await t.forceFlush();
    const logs = r.logs();
    expect(logs).toHaveLength(2);
    const rec = firstScopeRecords(r.bodies.logs[0])[1] as Json;
    expect((rec.attributes as unknown[]).length).toBe(128);
    expect(rec.droppedAttributesCount).toBeGreaterThan(0);
  });

  for (const [why, env] of [
    ['a console exporter beside OTLP', { OTEL_LOGS_EXPORTER: 'otlp,console' }],
    ['a value length limit', { OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4' }],
    ["the SDK's own metrics", { OTEL_NODE_EXPERIMENTAL_SDK_METRICS: 'true' }],
  ] as const) {
    it(`with ${why}, every record goes through the logger`, async () => {
      const r = await receiver();
      const t = start(r, env);
      for (let i = 0; i < 3; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
      expect(directCount()).toBeUndefined();
      await t.forceFlush();
      const logs = r.logs();
      expect(logs).toHaveLength(3);
    });
  }

  it("with a limit in the process's environment (which NodeSDK reads), records go through the logger and are bounded", async () => {
    vi.stubEnv('OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT', '4');
    const r = await receiver();
    const t = start(r);
    for (let i = 0; i < 2; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBeUndefined();
    await t.forceFlush();
    const logs = r.logs();
    expect(logs.map((l) => l.attributes[ATTR.requestModel])).toEqual(['clau', 'clau']);
  });

  it('limit variables set but empty (unset for NodeSDK too) leave the direct path on, the records whole', async () => {
    vi.stubEnv('OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', ' ');
    vi.stubEnv('OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT', '');
    const r = await receiver();
    const t = start(r, { OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '', OTEL_ATTRIBUTE_COUNT_LIMIT: '  ' });
    for (let i = 0; i < 3; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBe(2);
    await t.forceFlush();
    const logs = r.logs();
    expect(logs.map((l) => l.attributes[ATTR.requestModel])).toEqual(Array(3).fill('claude-sonnet-4-5'));
    expect(logs.map((l) => Object.keys(l.attributes).length)).toEqual(
      Array(3).fill(Object.keys(logs[0]?.attributes ?? {}).length),
    );
  });

  it('with spans off, direct records carry no trace context, as the logger would', async () => {
    const r = await receiver();
    const t = start(r, { OTEL_TRACES_EXPORTER: 'none' });
    for (let i = 0; i < 2; i++) expect(recordLLMUsage(CALLS[0] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBe(1);
    await t.forceFlush();
    const records = firstScopeRecords(r.bodies.logs[0]);
    expect(records).toHaveLength(2);
    for (const x of records) expect(x.traceId ?? '').toBe('');
  });

  it('after shutdown nothing is queued directly', async () => {
    const r = await receiver();
    const t = start(r);
    expect(recordLLMUsage(CALLS[0] as LLMUsageInput).ok).toBe(true);
    const rt = activeRuntime();
    expect(rt?.directRecords).toBeDefined();
    await t.shutdown();
    expect(rt?.directRecords).toBeUndefined();
  });
});

/** Every log record of the exported requests, in order. */
function allRecords(requests: unknown[]): Json[] {
  const out: Json[] = [];
  for (const request of requests)
    for (const rl of (request as Json).resourceLogs as Json[])
      for (const sl of rl.scopeLogs as Json[]) out.push(...(sl.logRecords as Json[]));
  return out;
}

/**
 * Runs `record` after a first record (which always goes through the logger) once with records queued
 * directly and once through the logger (a record limit that changes nothing); returns both exports.
 */
async function bothPaths(record: () => void): Promise<{ direct: Json[]; viaLogger: Json[] }> {
  const out: Json[][] = [];
  for (const env of [{}, { OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '128' }] as Record<string, string>[]) {
    const r = await receiver();
    const t = start(r, env);
    expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    record();
    expect(directCount()).toBe(Object.keys(env).length === 0 ? 1 : undefined);
    await t.forceFlush();
    await t.shutdown();
    out.push(allRecords(r.bodies.logs));
  }
  return { direct: out[0] as Json[], viaLogger: out[1] as Json[] };
}

describe('direct records and the logger agree on what the caller gave', () => {
  it('a start time before this process started (a backfill) is exported the same on both paths', async () => {
    const startTimeMs = Date.UTC(2024, 5, 1, 12);
    const call = { ...(CALLS[0] as LLMUsageInput), startTimeMs, durationMs: 5 };
    const before = Date.now();
    const { direct, viaLogger } = await bothPaths(() => expect(recordLLMUsage(call).ok).toBe(true));
    const after = Date.now();
    expect(direct).toHaveLength(2);
    expect(direct[1]?.timeUnixNano).toBe(viaLogger[1]?.timeUnixNano);
    expect(String(direct[1]?.timeUnixNano)).toBe(`${startTimeMs + 5}000000`);
    // Observed when recorded (now), not when the call happened, on both paths.
    for (const r of [direct[1], viaLogger[1]]) {
      const observedMs = Number(BigInt(String(r?.observedTimeUnixNano)) / 1_000_000n);
      expect(observedMs).toBeGreaterThanOrEqual(before);
      expect(observedMs).toBeLessThanOrEqual(after);
    }
  });
  it('an extra attribute with an empty name is dropped on both paths (the logger refuses it)', async () => {
    const call = { ...(CALLS[0] as LLMUsageInput), attributes: { '': 'x', 'app.step': 'plan' } };
    const { direct, viaLogger } = await bothPaths(() => expect(recordLLMUsage(call).ok).toBe(true));
    const keys = (x: Json | undefined) => ((x?.attributes ?? []) as { key: string }[]).map((a) => a.key);
    expect(keys(direct[1])).toContain('app.step');
    expect(keys(direct[1])).not.toContain('');
    expect(keys(direct[1])).toEqual(keys(viaLogger[1]));
  });

  it('an extra array attribute is exported as it was when recorded, though the caller changes it after', async () => {
    const { direct, viaLogger } = await bothPaths(() => {
      const scores = [1, 2, 3];
      const flags = [true, false];
      expect(
        recordLLMUsage({
          ...(CALLS[0] as LLMUsageInput),
          attributes: { 'app.scores': scores, 'app.flags': flags },
        }).ok,
      ).toBe(true);
      scores[0] = 99;
      flags[0] = false;
    });
    for (const records of [direct, viaLogger]) {
      const a = flattenAttributes(records[1]?.attributes);
      expect(a['app.scores']).toBe(
        JSON.stringify({ arrayValue: { values: [{ intValue: 1 }, { intValue: 2 }, { intValue: 3 }] } }),
      );
      expect(a['app.flags']).toBe(
        JSON.stringify({ arrayValue: { values: [{ boolValue: true }, { boolValue: false }] } }),
      );
    }
  });
  it("learn the SDK's own scope: another logger of the provider (another instrumentation, another copy of the SDK) emitting first is not taken", async () => {
    const r = await receiver();
    const t = start(r);
    // NodeSDK made spendline's logger provider the global one: the service's and other instrumentations' logs go through it.
    logs.getLogger('app-logs').emit({ body: 'hello' });
    logs.getLogger(SDK_SCOPE_NAME, '0.0.1-other-copy').emit({ eventName: USAGE_EVENT_NAME });
    logs
      .getLogger(SDK_SCOPE_NAME, SDK_VERSION, { attributes: { 'copy.id': 2 } })
      .emit({ eventName: USAGE_EVENT_NAME });
    for (let i = 0; i < 3; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBe(2);
    await t.forceFlush();
    const scopes = r.logs().map((l) => l.scope);
    expect(scopes).toEqual(['app-logs', ...Array(5).fill(SDK_SCOPE_NAME)]);
    // The usage records' scope is the SDK's, with its version, in one scope group.
    const groups = ((r.bodies.logs[0] as Json).resourceLogs as Json[]).flatMap(
      (rl) => rl.scopeLogs as Json[],
    );
    const versions = groups.map((g) => [(g.scope as Json).version, (g.logRecords as unknown[]).length]);
    expect(versions).toEqual([
      [undefined, 1],
      ['0.0.1-other-copy', 1],
      [SDK_VERSION, 1],
      [SDK_VERSION, 3],
    ]);
  });
  it("register's lazy start: the first record starts the pipeline and goes through the logger, the rest directly", async () => {
    const r = await receiver();
    const t = startTelemetryOnFirstRecord({
      env: { OTLP_ENDPOINT: r.url },
      serviceName: 'lazy',
      onWarning: () => {},
    });
    cleanups.push(() => t.shutdown());
    for (let i = 0; i < 3; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBe(2);
    await t.shutdown();
    expect(r.logs().map((l) => [l.resource['service.name'], l.scope])).toEqual(
      Array.from({ length: 3 }, () => ['lazy', SDK_SCOPE_NAME]),
    );
  });

  it('two pipelines in a row, then a restart: each queues into its own export with its own resource', async () => {
    const [a, b, c] = [await receiver(), await receiver(), await receiver()];
    const startNamed = (url: string, serviceName: string) =>
      startTelemetry({ env: { OTLP_ENDPOINT: url }, serviceName, onWarning: () => {} });
    const ta = startNamed(a.url, 'a');
    expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    const tb = startNamed(b.url, 'b');
    for (let i = 0; i < 3; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    await ta.shutdown();
    for (let i = 0; i < 2; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBe(4);
    await tb.shutdown();
    const tc = startNamed(c.url, 'c');
    cleanups.push(() => tc.shutdown());
    for (let i = 0; i < 3; i++) expect(recordLLMUsage(CALLS[1] as LLMUsageInput).ok).toBe(true);
    expect(directCount()).toBe(2);
    await tc.shutdown();
    const services = (x: OtlpReceiver) => x.logs().map((l) => l.resource['service.name']);
    expect([services(a), services(b), services(c)]).toEqual([['a'], Array(5).fill('b'), Array(3).fill('c')]);
  });
});
