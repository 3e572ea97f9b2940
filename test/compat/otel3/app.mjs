// Test-only service on the OpenTelemetry JS 3.x release set (see package.json): its own NodeSDK with
// its own OTLP/HTTP span and log exporters, spendline's instrumentation in its list. One `openai`
// chat call (ES module import, patched through the 3.x loader hook) and one manual `recordLLMUsage`,
// both inside the service's own active span. env: RECEIVER_URL, FAKE_URL. Prints `done <json>`.
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const { trace } = await import('@opentelemetry/api');
const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-http');
const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
const { BatchLogRecordProcessor } = await import('@opentelemetry/sdk-logs');
const { NodeSDK } = await import('@opentelemetry/sdk-node');
const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
const { recordLLMUsage, SpendlineInstrumentation } = await import('@spendline/sdk');

/** The version of the copy of `pkg` this app resolves (its package.json, found above its entry). */
function versionOf(pkg) {
  for (let dir = dirname(fileURLToPath(import.meta.resolve(pkg))); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (manifest.name === pkg) return manifest.version;
    } catch {
      // no manifest here: look further up
    }
  }
  return undefined;
}
const versions = { sdkNode: versionOf('@opentelemetry/sdk-node'), api: versionOf('@opentelemetry/api') };

const url = process.env.RECEIVER_URL;
const sdk = new NodeSDK({
  serviceName: 'otel3-service',
  spanProcessors: [
    new BatchSpanProcessor({
      exporter: new OTLPTraceExporter({ url: `${url}/v1/traces` }),
      scheduledDelayMillis: 50,
    }),
  ],
  logRecordProcessors: [
    new BatchLogRecordProcessor({
      exporter: new OTLPLogExporter({ url: `${url}/v1/logs` }),
      scheduledDelayMillis: 50,
    }),
  ],
  metricReaders: [],
  instrumentations: [new SpendlineInstrumentation()],
});
sdk.start();

const { default: OpenAI } = await import('openai');
const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${process.env.FAKE_URL}/v1`, maxRetries: 0 });
const out = await trace.getTracer('otel3-service').startActiveSpan('handle request', async (span) => {
  const reply = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
  });
  const manual = recordLLMUsage({
    provider: 'openai',
    model: 'gpt-4o',
    inputTokens: 1000,
    outputTokens: 100,
  });
  span.end();
  return {
    reply: reply.choices[0]?.message.content,
    manual,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    versions,
  };
});
await sdk.shutdown();
console.log(`done ${JSON.stringify(out)}`);
