// A service's own OpenTelemetry setup that does not know about spendline, the way
// `--import @opentelemetry/auto-instrumentations-node/register` sets one up: NodeSDK with the HTTP
// and the official OpenAI instrumentation (`@opentelemetry/instrumentation-openai`, which
// auto-instrumentations-node includes), its spans and logs exported to its own backend (HOST_URL)
// and to spendline's collector (SPENDLINE_COLLECTOR_URL), flushed when the process is about to exit.
// Each span is exported alone (maxExportBatchSize 1): the official instrumentation's span of a call and
// spendline's never share an export line, so the sidecar must pair them by the SDK's marks.
// Loaded with `--import`, before or after `@spendline/sdk/register`.
import { register } from 'node:module';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const backends = [process.env.HOST_URL, process.env.SPENDLINE_COLLECTOR_URL];
const sdk = new NodeSDK({
  serviceName: 'host-service',
  spanProcessors: backends.map(
    (url) =>
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces` }), {
        scheduledDelayMillis: 100,
        maxExportBatchSize: 1,
      }),
  ),
  logRecordProcessors: backends.map(
    (url) =>
      new BatchLogRecordProcessor({
        exporter: new OTLPLogExporter({ url: `${url}/v1/logs` }),
        scheduledDelayMillis: 100,
      }),
  ),
  metricReaders: [],
  instrumentations: [new HttpInstrumentation(), new OpenAIInstrumentation()],
});
sdk.start();
process.once('beforeExit', () => {
  void sdk.shutdown();
});
