/**
 * Budgets enforced before a call, against a real sidecar (`spendline up` with --budgets): the
 * usage that spends a budget goes through the real pipeline (SDK → OTLP → sidecar ledger).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../sidecar/test/support/sidecarHarness.js';
import { startUpProcess, type UpProcess, waitForMetric } from '../../sidecar/test/support/upProcess.js';
import { freePort } from '../../test/support/ports.js';
import { ATTR } from '../src/contract.js';
import {
  BudgetExceededError,
  type BudgetOptions,
  instrumentOpenAI,
  startTelemetry,
  type TelemetryHandle,
  withUsageContext,
} from '../src/index.js';
import { type FakeProvider, startFakeProvider } from '../src/testing/index.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlpReceiver.js';

// gpt-4o-mini, 11 input + 7 output tokens (the fake's default) = 5850 nano-USD per call.
const BUDGETS = `budgets:
  - name: per-user-day
    scope: { user: "*" }
    period: day
    limit_usd: "0.000010"
  - name: per-task-total
    scope: { task: "*" }
    period: lifetime
    limit_usd: "0.000005"
`;

let up: UpProcess;
let fake: FakeProvider;
let receiver: OtlpReceiver;
let state: { dir: string; cleanup(): void };
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });

beforeAll(async () => {
  state = tempDir('spendline-budget-sdk-');
  writeFileSync(join(state.dir, 'budgets.yaml'), BUDGETS);
  up = await startUpProcess(join(state.dir, 'state'), ['--budgets', join(state.dir, 'budgets.yaml')]);
  fake = await startFakeProvider();
  receiver = await startOtlpReceiver();
  metrics.setGlobalMeterProvider(meterProvider);
}, 60_000);
afterAll(async () => {
  await up?.stop('SIGTERM');
  await fake?.close();
  await receiver?.close();
  await meterProvider.shutdown();
  metrics.disable();
  state?.cleanup();
});

async function withTelemetry<T>(
  budgets: BudgetOptions,
  otlp: string,
  fn: (openai: OpenAI, t: TelemetryHandle) => Promise<T>,
): Promise<T> {
  const t = startTelemetry({ env: { OTLP_ENDPOINT: otlp }, scheduledDelayMillis: 50, budgets });
  try {
    const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: fake.openaiBaseURL, maxRetries: 0 }));
    return await fn(openai, t);
  } finally {
    await t.shutdown();
  }
}

const ask = (openai: OpenAI) =>
  openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

async function refusalsMetric(): Promise<Record<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const out: Record<string, number> = {};
  for (const sm of resourceMetrics.scopeMetrics)
    for (const m of sm.metrics)
      if (m.descriptor.name === 'spendline.budget.refusals')
        for (const p of m.dataPoints)
          out[`${p.attributes['spendline.budget.enforce']}/${p.attributes['spendline.budget.reason']}`] =
            p.value as number;
  return out;
}

describe('budgets enforced before the call', () => {
  it('block: a user or task over budget is refused before any request; others are not', async () => {
    await withTelemetry(
      { url: up.sidecarUrl, enforce: 'block', ttlMs: 100 },
      up.otlpUrl,
      async (openai, t) => {
        // Spend: alice 2 calls (11 700 nano-USD > 10 000), task t-1 1 call (5850 > 5000).
        await withUsageContext({ userId: 'alice' }, async () => {
          await ask(openai);
          await ask(openai);
        });
        await withUsageContext({ taskId: 't-1' }, () => ask(openai));
        await t.forceFlush();
        await waitForMetric(up.sidecarUrl, 'llm_requests_total', 3, 30_000);
        // Let the answers cached while the calls were within budget expire.
        await new Promise((r) => setTimeout(r, 150));

        const sentBefore = fake.requests.length;
        const refused = await withUsageContext({ userId: 'alice', feature: 'search' }, () =>
          ask(openai),
        ).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(refused).toBeInstanceOf(BudgetExceededError);
        const err = refused as BudgetExceededError;
        expect(err.reason).toBe('exceeded');
        expect(err.scope).toMatchObject({ user: 'alice', feature: 'search', provider: 'openai' });
        expect(err.budgets.map((b) => [b.budget, b.spentUsd, b.limitUsd])).toEqual([
          ['per-user-day', '0.000011700', '0.000010000'],
        ]);
        const taskRefused = await withUsageContext({ taskId: 't-1' }, () => ask(openai)).catch(
          (e: unknown) => e,
        );
        expect((taskRefused as BudgetExceededError).budgets.map((b) => b.budget)).toEqual(['per-task-total']);
        expect(fake.requests.length).toBe(sentBefore); // nothing was sent for either

        const bob = await withUsageContext({ userId: 'bob' }, () => ask(openai));
        expect(bob.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
        await withUsageContext({ taskId: 't-2' }, () => ask(openai));
        expect(fake.requests.length).toBe(sentBefore + 2);
        const s = t.stats();
        expect(s.budgetRefusals).toBe(2);
        expect(s.budgetChecksFailed).toBe(0);
        expect(s.recordsEmitted).toBe(5); // refused calls leave no usage record
        expect(await refusalsMetric()).toMatchObject({ 'block/exceeded': 2 });
      },
    );
  }, 90_000);

  it('one check per scope per TTL; concurrent callers share one in-flight request', async () => {
    await withTelemetry({ url: up.sidecarUrl, ttlMs: 60_000 }, up.otlpUrl, async (openai, t) => {
      await withUsageContext({ userId: 'carol' }, () =>
        Promise.all(Array.from({ length: 8 }, () => ask(openai))),
      );
      expect(t.stats().budgetChecks).toBe(1);
      await withUsageContext({ userId: 'carol' }, () => ask(openai)); // cache hit, decided synchronously
      expect(t.stats().budgetChecks).toBe(1);
      await withUsageContext({ userId: 'dave' }, () => ask(openai)); // another scope: its own check
      expect(t.stats().budgetChecks).toBe(2);
      // The cached refusal keeps APIPromise's surface: withResponse() rejects with the same error.
      const r = await withUsageContext({ userId: 'alice' }, () => ask(openai).withResponse()).catch(
        (e: unknown) => e,
      );
      expect(r).toBeInstanceOf(BudgetExceededError);
      const ok = await withUsageContext({ userId: 'carol' }, () => ask(openai).withResponse());
      expect(ok.response.status).toBe(200);
    });
  }, 60_000);

  it('warn: the over-budget call is sent, its record is marked, and it is counted', async () => {
    const before = (await refusalsMetric())['warn/exceeded'] ?? 0;
    await withTelemetry({ url: up.sidecarUrl, enforce: 'warn' }, receiver.url, async (openai, t) => {
      const reply = await withUsageContext({ userId: 'alice' }, () => ask(openai));
      expect(reply.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
      await withUsageContext({ userId: 'erin' }, () => ask(openai));
      await t.forceFlush();
      const logs = receiver.logs();
      const alice = logs.find((l) => l.attributes[ATTR.userId] === 'alice');
      const erin = logs.find((l) => l.attributes[ATTR.userId] === 'erin');
      expect(alice?.attributes[ATTR.budgetExceeded]).toBe(true);
      expect(erin?.attributes[ATTR.budgetExceeded]).toBeUndefined();
      expect(t.stats()).toMatchObject({ budgetWarnings: 1, budgetRefusals: 0 });
    });
    expect((await refusalsMetric())['warn/exceeded']).toBe(before + 1);
  }, 60_000);

  it('sidecar unreachable: fail-open lets calls through; fail-closed refuses them', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    await withTelemetry({ url: dead, timeoutMs: 2000 }, receiver.url, async (openai, t) => {
      const reply = await withUsageContext({ userId: 'alice' }, () => ask(openai));
      expect(reply.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
      await withUsageContext({ userId: 'alice' }, () => ask(openai));
      // The failure is cached like an answer: one attempt per TTL, not one per call.
      expect(t.stats()).toMatchObject({ budgetChecks: 1, budgetChecksFailed: 1, budgetRefusals: 0 });
    });
    await withTelemetry({ url: dead, failClosed: true }, receiver.url, async (openai, t) => {
      const sentBefore = fake.requests.length;
      const e = await withUsageContext({ userId: 'bob' }, () => ask(openai)).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BudgetExceededError);
      expect((e as BudgetExceededError).reason).toBe('unavailable');
      expect(fake.requests.length).toBe(sentBefore);
      expect(t.stats()).toMatchObject({ budgetChecksFailed: 1, budgetRefusals: 1 });
    });
    expect((await refusalsMetric())['block/unavailable']).toBe(1);
  }, 60_000);
});
