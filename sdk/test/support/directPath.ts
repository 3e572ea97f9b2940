import { afterEach, vi } from 'vitest';
import { type LLMUsageInput, startTelemetry, type TelemetryHandle } from '../../src/index.js';
import { type OtlpReceiver, startOtlpReceiver } from './otlpReceiver.js';

// Shared by the tests that hold an export made without the OpenTelemetry SDK's logger or tracer
// (src/telemetry/directRecords.ts, directSpans.ts) to the SDK's own.

export interface PipelineFixtures {
  /** Run (last first) after each test: receivers closed, pipelines shut down. */
  cleanups: (() => Promise<void>)[];
  receiver(): Promise<OtlpReceiver>;
  /** spendline's own pipeline exporting to `r`, only when flushed. */
  start(r: OtlpReceiver, env?: Record<string, string>): TelemetryHandle;
}

/** Receivers and pipelines for one test file, closed and shut down after each test (stubbed env too). */
export function pipelineFixtures(): PipelineFixtures {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    vi.unstubAllEnvs();
  });
  return {
    cleanups,
    async receiver() {
      const r = await startOtlpReceiver();
      cleanups.push(() => r.close());
      return r;
    },
    start(r, env = {}) {
      const t = startTelemetry({
        env: { OTLP_ENDPOINT: r.url, ...env },
        scheduledDelayMillis: 60_000,
        onWarning: () => {},
      });
      cleanups.push(() => t.shutdown());
      return t;
    },
  };
}

/** Manual records both paths are held to: cached input, another provider with a duration, a failed call. */
export const MANUAL_CALLS: readonly LLMUsageInput[] = [
  {
    provider: 'openai',
    model: 'gpt-4o-mini',
    inputTokens: 1200,
    outputTokens: 300,
    cacheReadInputTokens: 1000,
  },
  { provider: 'anthropic', model: 'claude-sonnet-4-5', inputTokens: 40, outputTokens: 7, durationMs: 812 },
  { provider: 'openai', model: 'gpt-4o', inputTokens: 9, outputTokens: 0, errorType: 'rate_limit_exceeded' },
];

type Json = Record<string, unknown>;

const IDS = new Set(['traceId', 'spanId', 'parentSpanId']);
const TIMES = new Set(['timeUnixNano', 'observedTimeUnixNano', 'startTimeUnixNano', 'endTimeUnixNano']);

/**
 * OTLP requests with what differs between two runs of the same calls blanked: ids and times (set or
 * not is kept), span ids inside trace state, and the values of the attributes named `varying`.
 */
export function comparableExport(requests: unknown[], varying: ReadonlySet<string>): unknown {
  const blank = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(blank);
    if (typeof v !== 'object' || v === null) return v;
    const o: Json = {};
    for (const [k, x] of Object.entries(v as Json)) {
      if (IDS.has(k) || TIMES.has(k)) o[k] = typeof x === 'string' && x !== '' && !/^0+$/.test(x) ? 'set' : x;
      else if (k === 'traceState') o[k] = typeof x === 'string' ? x.replace(/[0-9a-f]{16}/g, 'id') : x;
      else if (k === 'key' && varying.has(String(x))) return { key: x, value: 'set' };
      else o[k] = blank(x);
    }
    return o;
  };
  return blank(requests);
}
