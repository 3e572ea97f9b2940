// A service instrumented with @spendline/sdk, run as a child process by the end-to-end test.
// argv: <otlp endpoint> <phase JSON: {calls, model, provider, inputTokens, outputTokens, cacheRead, reasoning, feature}>
// Prints the ground truth it sent (calls, tokens by partition, cost in nano-USD) as one JSON line.
import {
  createPricer,
  partitionTokens,
  recordLLMUsage,
  startTelemetry,
  withUsageContext,
} from '../../sdk/dist/index.js';

const [endpoint, phaseJson] = process.argv.slice(2);
const phase = JSON.parse(phaseJson);
const telemetry = startTelemetry({ endpoint, serviceName: 'e2e-checkout', scheduledDelayMillis: 100 });
const pricer = createPricer();
const truth = {
  calls: 0,
  tokens: { input: 0, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 },
  costNano: 0,
};
for (let i = 0; i < phase.calls; i++) {
  const usage = {
    inputTokens: phase.inputTokens + i,
    outputTokens: phase.outputTokens,
    cacheReadInputTokens: phase.cacheRead,
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: phase.reasoning,
  };
  const result = withUsageContext({ userId: `user-${i % 3}`, feature: phase.feature }, () =>
    recordLLMUsage({
      provider: phase.provider,
      model: phase.model,
      durationMs: 800 + (i % 5) * 100,
      ...usage,
    }),
  );
  if (!result.ok) throw new Error(`record refused: ${result.reason}`);
  truth.calls++;
  for (const [k, v] of Object.entries(partitionTokens(usage))) truth.tokens[k] += v;
  const price = pricer.priceUsage(usage, { provider: phase.provider, model: phase.model });
  if (price.status !== 'priced') throw new Error(`${phase.model} has no price`);
  truth.costNano += price.costNanoUsd;
}
await telemetry.forceFlush();
const stats = telemetry.stats();
await telemetry.shutdown();
if (stats.logsExported !== phase.calls)
  throw new Error(`exported ${stats.logsExported} of ${phase.calls}: ${JSON.stringify(stats)}`);
process.stdout.write(`${JSON.stringify(truth)}\n`);
