/**
 * SpendlineInstrumentation in real services (child processes, ES module and CommonJS):
 * - a service that runs its own NodeSDK gets the usage records through its own span and log
 *   exporters, once per call, inside the traces of its HTTP server spans;
 * - a service started with `node --import @spendline/sdk/register` and only OTLP_ENDPOINT set is
 *   counted exactly by the sidecar (`spendline up`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { usdDecimal } from '../../sidecar/src/report/money.js';
import { tempDir } from '../../sidecar/test/support/sidecarHarness.js';
import { metricSum, startUpProcess, waitForMetric } from '../../sidecar/test/support/upProcess.js';
import { ATTR, USAGE_EVENT_NAME } from '../src/contract.js';
import { createPricer } from '../src/pricing/index.js';
import { startFakeProvider } from '../src/testing/index.js';
import { type CapturedSpan, startOtlpReceiver } from './support/otlpReceiver.js';

const APPS = fileURLToPath(new URL('./apps/', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The child's environment: the test runner's, minus any OpenTelemetry or spendline setting. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('OTEL_') && !k.startsWith('SPENDLINE_') && k !== 'OTLP_ENDPOINT') env[k] = v;
  return { ...env, ...extra };
}

interface Service {
  port: number;
  exited: Promise<number | null>;
  output: () => string;
}

async function startService(args: string[], env: Record<string, string>): Promise<Service> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: APPS,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not start:\n${out}`)), 30_000);
    child.stderr?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(() => reject(new Error(`service exited before listening:\n${out}`)));
  });
  return { port, exited, output: () => out };
}

/** One request to the service's model route, then a stop; resolves with the exit code. */
async function exercise(s: Service): Promise<number | null> {
  const res = await fetch(`http://127.0.0.1:${s.port}/chat`);
  expect(res.status, s.output()).toBe(200);
  expect(await res.json()).toEqual({
    openai: 'Hello from the spendline fake provider.',
    anthropic: 'Hello from the spendline fake provider.',
  });
  await (await fetch(`http://127.0.0.1:${s.port}/stop`)).text();
  const timer = setTimeout(() => undefined, 30_000);
  const code = await s.exited;
  clearTimeout(timer);
  return code;
}

const SERVER = 2; // OTLP SPAN_KIND_SERVER
const CLIENT = 3;

describe.each([
  ['ES module', 'service-app.mjs'],
  ['CommonJS', 'service-app.cjs'],
])('%s service', (_kind, app) => {
  it('with its own NodeSDK: records go out through its exporters, once, in its HTTP traces', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    const fake = await startFakeProvider();
    cleanups.push(() => fake.close());
    const s = await startService(['--import', './service-telemetry.mjs', app], {
      RECEIVER_URL: receiver.url,
      FAKE_URL: fake.url,
    });
    expect(await exercise(s)).toBe(0);

    const usageLogs = receiver.logs().filter((l) => l.eventName === USAGE_EVENT_NAME);
    expect(usageLogs.map((l) => l.attributes[ATTR.requestModel]).sort()).toEqual([
      'claude-sonnet-4-5',
      'gpt-4o-mini',
    ]);
    for (const log of usageLogs) {
      expect(log.attributes[ATTR.inputTokens]).toBe(11);
      expect(log.attributes[ATTR.outputTokens]).toBe(7);
      expect(log.attributes[ATTR.usageType]).toBe('exact');
      expect(typeof log.attributes[ATTR.costUsd]).toBe('number');
      expect(log.resource['service.name']).toBe('checkout');
      expect(log.scope).toBe('@spendline/sdk');
    }
    const spans = receiver.spans();
    const server = spans.filter((x) => x.kind === SERVER && x.name.startsWith('GET'));
    const chatServer = server.find(
      (x) => x.attributes['url.path'] === '/chat' || x.attributes['http.target'] === '/chat',
    );
    expect(chatServer, JSON.stringify(server.map((x) => x.attributes))).toBeDefined();
    const usageSpans = spans.filter((x) => x.name.startsWith('chat '));
    expect(usageSpans).toHaveLength(2);
    // Once: no other span carries the calls' usage (the Anthropic SDK's own GenAI span is suppressed).
    expect(spans.filter((x) => x.attributes[ATTR.inputTokens] !== undefined)).toHaveLength(2);
    for (const u of usageSpans) {
      expect(u.kind).toBe(CLIENT);
      expect(u.traceId).toBe((chatServer as CapturedSpan).traceId);
      expect(u.parentSpanId).toBe((chatServer as CapturedSpan).spanId);
      const log = usageLogs.find((l) => l.attributes[ATTR.requestModel] === u.attributes[ATTR.requestModel]);
      expect(log?.spanId).toBe(u.spanId);
      expect(log?.traceId).toBe(u.traceId);
    }
  }, 60_000);
});

describe('node --import @spendline/sdk/register with only OTLP_ENDPOINT set', () => {
  it('ES module and CommonJS services are counted exactly by the sidecar, over OTLP/HTTP JSON and protobuf and OTLP/gRPC', async () => {
    const state = tempDir('spendline-register-');
    cleanups.push(state.cleanup);
    const up = await startUpProcess(state.dir);
    cleanups.push(async () => {
      await up.stop('SIGTERM');
    });
    const fake = await startFakeProvider();
    cleanups.push(() => fake.close());
    const pricer = createPricer();
    const usage = {
      inputTokens: 11,
      outputTokens: 7,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      reasoningOutputTokens: 0,
    };
    let expectedNano = 0;
    for (const [provider, model] of [
      ['openai', 'gpt-4o-mini'],
      ['anthropic', 'claude-sonnet-4-5'],
    ] as const) {
      const p = pricer.priceUsage(usage, { provider, model });
      if (p.status !== 'priced') throw new Error(`${model} has no price`);
      expectedNano += p.costNanoUsd;
    }

    let calls = 0;
    // The third run exports OTLP/HTTP protobuf, the fourth OTLP/gRPC (OTEL_EXPORTER_OTLP_PROTOCOL) to
    // the receiver's gRPC listener; both are decoded into the same file.
    const grpcUrl = up.otlpGrpcUrl;
    if (grpcUrl === undefined) throw new Error(`no OTLP/gRPC listener in the banner:\n${up.output()}`);
    const runs: [string, Record<string, string>][] = [
      ['service-app.mjs', {}],
      ['service-app.cjs', {}],
      ['service-app.mjs', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }],
      ['service-app.cjs', { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: grpcUrl }],
    ];
    for (const [app, env] of runs) {
      const s = await startService(['--import', '@spendline/sdk/register', app], {
        OTLP_ENDPOINT: up.otlpUrl,
        FAKE_URL: fake.url,
        ...env,
      });
      expect(await exercise(s), s.output()).toBe(0);
      calls += 2;
      await waitForMetric(up.sidecarUrl, 'llm_requests_total', calls, 30_000);
    }
    expect(await metricSum(up.sidecarUrl, 'llm_requests_total')).toBe(8);
    expect(await metricSum(up.sidecarUrl, 'llm_tokens_total')).toBe(8 * 18);
    const overall = (await (await fetch(`${up.sidecarUrl}/api/usage/overall`)).json()) as {
      totals: { requests: number; cost_usd: string };
    };
    expect(overall.totals.requests).toBe(8);
    expect(overall.totals.cost_usd).toBe(usdDecimal(4n * BigInt(expectedNano)));
  }, 120_000);
});
