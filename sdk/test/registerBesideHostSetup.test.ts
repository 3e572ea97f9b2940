/**
 * `node --import @spendline/sdk/register` in a service that has its own OpenTelemetry setup, started
 * before or after spendline's (`--import` order), the way teams run
 * `--import @opentelemetry/auto-instrumentations-node/register` today: NodeSDK with the official
 * OpenAI instrumentation (`@opentelemetry/instrumentation-openai`, which auto-instrumentations-node
 * includes), exporting to its own backend and to spendline's collector. Both release sets: the
 * repository's own (API 1.9, NodeSDK 0.223) and the current 3.x (API 1.10, NodeSDK 0.301, in
 * test/compat/otel3), which cannot use globals an older API copy registered first.
 *
 * In every order:
 * - the service's telemetry still reaches its own backend (its spans of the OpenAI call, and
 *   spendline's span inside its trace): spendline registering first must not take the globals;
 * - the sidecar counts each call once, though the official instrumentation's span of the OpenAI
 *   call reaches spendline's collector too (spendline's span goes through the service's tracer
 *   provider, so the two are in one export, where the sidecar pairs them).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../sidecar/test/support/sidecarHarness.js';
import {
  metricSum,
  startUpProcess,
  type UpProcess,
  waitForMetric,
} from '../../sidecar/test/support/upProcess.js';
import { ATTR } from '../src/contract.js';
import { type FakeProvider, startFakeProvider } from '../src/testing/index.js';
import { startOtlpReceiver } from './support/otlpReceiver.js';

// Run from test/compat/prev-majors: it resolves `openai` 6, which the official instrumentation patches.
const APP_DIR = fileURLToPath(new URL('../../test/compat/prev-majors/', import.meta.url));
const HOSTS = {
  'OpenTelemetry 2.x (API 1.9)': fileURLToPath(new URL('./apps/host-telemetry.mjs', import.meta.url)),
  'OpenTelemetry 3.x (API 1.10)': fileURLToPath(
    new URL('../../test/compat/otel3/host-telemetry.mjs', import.meta.url),
  ),
};
const REGISTER = '@spendline/sdk/register';

const cleanups: (() => Promise<void> | void)[] = [];
let up: UpProcess;
let fake: FakeProvider;
let counted = 0;
beforeAll(async () => {
  const state = tempDir('spendline-host-setup-');
  cleanups.push(state.cleanup);
  up = await startUpProcess(state.dir);
  cleanups.push(async () => {
    await up.stop('SIGTERM');
  });
  fake = await startFakeProvider();
  cleanups.push(() => fake.close());
}, 90_000);
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs host-service.mjs with the given preloads, calls GET /chat once, stops it; returns its output. */
async function runService(imports: string[], hostUrl: string): Promise<string> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('OTEL_') && !k.startsWith('SPENDLINE_') && k !== 'OTLP_ENDPOINT') env[k] = v;
  const child: ChildProcess = spawn(
    process.execPath,
    [...imports.flatMap((i) => ['--import', i]), 'host-service.mjs'],
    {
      cwd: APP_DIR,
      env: {
        ...env,
        OTLP_ENDPOINT: up.otlpUrl,
        SPENDLINE_COLLECTOR_URL: up.otlpUrl,
        HOST_URL: hostUrl,
        FAKE_URL: fake.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const poll = setInterval(() => {
        const m = /listening (\d+)/.exec(out);
        if (m) {
          clearInterval(poll);
          resolve(Number(m[1]));
        }
      }, 20);
      void exited.then(() => {
        clearInterval(poll);
        reject(new Error(`service exited before listening:\n${out}`));
      });
    });
    const res = await fetch(`http://127.0.0.1:${port}/chat`);
    expect(res.status, out).toBe(200);
    await res.text();
    await (await fetch(`http://127.0.0.1:${port}/stop`)).text();
    // Idle after /stop: both setups flush on beforeExit, then the process ends.
    expect(await exited, out).toBe(0);
    return out;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe.each(Object.entries(HOSTS))('beside a service setup on %s', (_set, hostTelemetry) => {
  it.each([
    ['the service’s setup first', [hostTelemetry, REGISTER]],
    ['spendline’s register first', [REGISTER, hostTelemetry]],
  ])(
    '%s: the service keeps its telemetry, the sidecar counts each call once',
    async (_order, imports) => {
      const hostBackend = await startOtlpReceiver();
      try {
        const out = await runService(imports, hostBackend.url);
        // The calls of GET /chat: a non-streaming and a streaming OpenAI chat call.
        counted += 2;
        await waitForMetric(up.sidecarUrl, 'llm_requests_total', counted, 30_000);

        const spans = hostBackend.spans();
        const openaiSpans = spans.filter((s) => s.name === 'chat gpt-4o-mini');
        const official = openaiSpans.filter((s) => s.attributes[ATTR.usageId] === undefined);
        const ours = openaiSpans.filter((s) => s.attributes[ATTR.usageId] !== undefined);
        const names = JSON.stringify(spans.map((s) => [s.name, s.attributes[ATTR.usageId] ?? '']));
        // The service's own instrumentation still records into its own backend…
        expect(official, `${out}\n${names}`).toHaveLength(2);
        // …and spendline's span of each call is in the service's trace, the parent or the child of it.
        expect(ours, `${out}\n${names}`).toHaveLength(2);
        for (const o of ours) {
          expect(o.resource['service.name']).toBe('host-service');
          const pair = official.filter((x) => x.parentSpanId === o.spanId || o.parentSpanId === x.spanId);
          expect(pair, names).toHaveLength(1);
          expect(pair[0]?.traceId).toBe(o.traceId);
        }
        for (const x of official) expect(x.resource['service.name']).toBe('host-service');
        // spendline's records are not sent to the service's backend (only to OTLP_ENDPOINT).
        expect(hostBackend.logs().filter((l) => l.attributes[ATTR.usageId] !== undefined)).toEqual([]);
      } finally {
        await hostBackend.close();
      }
      // Nothing arrives late: everything was exported before the service exited; a second count of the
      // OpenAI call (the official span, had it not been paired) would show after a few more tail polls.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await metricSum(up.sidecarUrl, 'llm_requests_total')).toBe(counted);
    },
    90_000,
  );
});
