/**
 * Usage records queued directly (src/telemetry/directRecords.ts) counted by a real `spendline up`:
 * several records per run, over several export requests, over OTLP/HTTP JSON, protobuf and OTLP/gRPC.
 * Each run's first record goes through the logger, the rest skip it; the sidecar counts every one
 * once, with exact tokens and cost.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { usdDecimal } from '../../sidecar/src/report/money.js';
import { tempDir } from '../../sidecar/test/support/sidecarHarness.js';
import {
  metricSum,
  startUpProcess,
  type UpProcess,
  waitForMetric,
} from '../../sidecar/test/support/upProcess.js';
import { type LLMUsageInput, recordLLMUsage, startTelemetry, withUsageContext } from '../src/index.js';
import { createPricer } from '../src/pricing/index.js';
import { activeRuntime } from '../src/telemetry/runtime.js';

let up: UpProcess;
const state = tempDir('spendline-direct-records-');
beforeAll(async () => {
  up = await startUpProcess(state.dir);
}, 90_000);
afterAll(async () => {
  await up?.stop('SIGTERM');
  state.cleanup();
});

const RECORDS_PER_RUN = 7;

it('the sidecar counts every directly queued record once, exactly, over each OTLP protocol', async () => {
  const grpcUrl = up.otlpGrpcUrl;
  if (grpcUrl === undefined) throw new Error(`no OTLP/gRPC listener in the banner:\n${up.output()}`);
  const pricer = createPricer();
  let calls = 0;
  let tokens = 0;
  let costNano = 0n;
  for (const env of [
    { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
    { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' },
    { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_ENDPOINT: grpcUrl },
  ]) {
    // Batches of 3: the records leave in several export requests, the first mixing both paths.
    const t = startTelemetry({
      env: { OTLP_ENDPOINT: up.otlpUrl, ...env },
      maxExportBatchSize: 3,
      scheduledDelayMillis: 50,
      onWarning: () => {},
    });
    for (let i = 0; i < RECORDS_PER_RUN; i++) {
      const call: LLMUsageInput = {
        provider: i % 2 === 0 ? 'openai' : 'anthropic',
        model: i % 2 === 0 ? 'gpt-4o-mini' : 'claude-sonnet-4-5',
        inputTokens: 100 + i,
        outputTokens: 10 + i,
        durationMs: 200,
        ...(i === 3 ? { errorType: 'rate_limit_exceeded' } : {}),
      };
      withUsageContext({ userId: `u-${i % 3}`, feature: 'direct' }, () => {
        expect(recordLLMUsage(call).ok).toBe(true);
      });
      const price = pricer.priceUsage(
        { ...call, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, reasoningOutputTokens: 0 },
        { provider: call.provider, model: call.model },
      );
      if (price.status !== 'priced') throw new Error(`${call.model} has no price`);
      costNano += BigInt(price.costNanoUsd);
      tokens += call.inputTokens + call.outputTokens;
    }
    expect(activeRuntime()?.directRecords?.emitted).toBe(RECORDS_PER_RUN - 1);
    await t.forceFlush();
    const stats = t.stats();
    await t.shutdown();
    expect(stats.logsExported).toBe(RECORDS_PER_RUN);
    calls += RECORDS_PER_RUN;
    await waitForMetric(up.sidecarUrl, 'llm_requests_total', calls, 30_000);
  }
  expect(await metricSum(up.sidecarUrl, 'llm_requests_total')).toBe(3 * RECORDS_PER_RUN);
  expect(await metricSum(up.sidecarUrl, 'llm_tokens_total')).toBe(tokens);
  const overall = (await (await fetch(`${up.sidecarUrl}/api/usage/overall`)).json()) as {
    totals: { requests: number; cost_usd: string };
  };
  expect(overall.totals.requests).toBe(3 * RECORDS_PER_RUN);
  expect(overall.totals.cost_usd).toBe(usdDecimal(costNano));
}, 120_000);
