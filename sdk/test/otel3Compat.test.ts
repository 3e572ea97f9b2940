/**
 * A service on the OpenTelemetry JS 3.x release set (NodeSDK 0.301, API 1.10, sdk-logs / sdk-trace
 * 3.1 — the current release, not the repository's own 0.223 / 2.12 set) adds SpendlineInstrumentation
 * to its own NodeSDK: an instrumented `openai` call and a manual `recordLLMUsage` go out through the
 * service's own 3.x OTLP exporters, once each, priced, inside the service's active span. The app
 * lives in its own npm workspace (test/compat/otel3 at the repository root) so its OpenTelemetry packages install nested
 * there; the test fails if it did not get the 3.x copies.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { ATTR, USAGE_EVENT_NAME } from '../src/contract.js';
import { startFakeProvider } from '../src/testing/index.js';
import { catalogCostUsd } from './support/catalogCost.js';
import { startOtlpReceiver } from './support/otlpReceiver.js';

const APP_DIR = fileURLToPath(new URL('../../test/compat/otel3/', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const cost = (model: string, input: number, output: number) => catalogCostUsd('openai', model, input, output);

interface AppResult {
  reply: string;
  manual: { ok: boolean; usageId?: string };
  traceId: string;
  spanId: string;
  versions: { sdkNode: string; api: string };
}

async function runApp(env: Record<string, string>): Promise<AppResult> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('OTEL_') && !k.startsWith('SPENDLINE_') && k !== 'OTLP_ENDPOINT') clean[k] = v;
  const child = spawn(process.execPath, ['app.mjs'], {
    cwd: APP_DIR,
    env: { ...clean, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  expect(code, out).toBe(0);
  const line = /^done (.*)$/m.exec(out);
  expect(line, out).not.toBeNull();
  return JSON.parse((line as RegExpExecArray)[1] as string) as AppResult;
}

it('a NodeSDK 0.301 / API 1.10 service gets spendline records through its own exporters, once, in its trace', async () => {
  const receiver = await startOtlpReceiver();
  cleanups.push(() => receiver.close());
  const fake = await startFakeProvider();
  cleanups.push(() => fake.close());

  const r = await runApp({ RECEIVER_URL: receiver.url, FAKE_URL: fake.url });
  // The app really ran on the 3.x set, not on the repository's hoisted 0.223 / 1.9 copies.
  expect(r.versions.sdkNode).toMatch(/^0\.301\./);
  expect(r.versions.api).toMatch(/^1\.10\./);
  expect(r.reply).toBe('Hello from the spendline fake provider.');
  expect(r.manual.ok).toBe(true);

  // shutdown() flushed both exporters before the app printed its result.
  const usage = receiver.logs().filter((l) => l.eventName === USAGE_EVENT_NAME);
  expect(usage.map((l) => l.attributes[ATTR.requestModel]).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
  const byModel = (m: string) => usage.find((l) => l.attributes[ATTR.requestModel] === m);
  expect(byModel('gpt-4o-mini')?.attributes).toMatchObject({
    [ATTR.inputTokens]: 11,
    [ATTR.outputTokens]: 7,
    [ATTR.usageType]: 'exact',
    [ATTR.costUsd]: cost('gpt-4o-mini', 11, 7),
  });
  expect(byModel('gpt-4o')?.attributes).toMatchObject({
    [ATTR.inputTokens]: 1000,
    [ATTR.outputTokens]: 100,
    [ATTR.usageId]: r.manual.usageId,
    [ATTR.costUsd]: cost('gpt-4o', 1000, 100),
  });
  for (const l of usage) {
    expect(l.resource['service.name']).toBe('otel3-service');
    expect(l.scope).toBe('@spendline/sdk');
    expect(l.traceId).toBe(r.traceId);
  }

  const spans = receiver.spans();
  const service = spans.find((s) => s.name === 'handle request');
  expect(service?.spanId).toBe(r.spanId);
  const calls = spans.filter((s) => s.attributes[ATTR.inputTokens] !== undefined);
  expect(calls.map((s) => s.name).sort()).toEqual(['chat gpt-4o', 'chat gpt-4o-mini']);
  for (const s of calls) {
    expect(s.traceId).toBe(r.traceId);
    expect(s.parentSpanId).toBe(r.spanId);
    const log = usage.find((l) => l.attributes[ATTR.requestModel] === s.attributes[ATTR.requestModel]);
    expect(log?.spanId).toBe(s.spanId);
  }
}, 60_000);
