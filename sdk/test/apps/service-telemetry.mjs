// A service's own OpenTelemetry setup (loaded with `node --import`): NodeSDK with HTTP
// instrumentation, its own span and log exporters, and spendline's instrumentation added to the list.
// env: RECEIVER_URL (the service's OTLP backend)
import { register } from 'node:module';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpendlineInstrumentation } from '@spendline/sdk';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const url = process.env.RECEIVER_URL;
const sdk = new NodeSDK({
  serviceName: 'checkout',
  spanProcessors: [
    new BatchSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces` }), { scheduledDelayMillis: 100 }),
  ],
  logRecordProcessors: [
    new BatchLogRecordProcessor({
      exporter: new OTLPLogExporter({ url: `${url}/v1/logs` }),
      scheduledDelayMillis: 100,
    }),
  ],
  metricReaders: [],
  instrumentations: [new HttpInstrumentation(), new SpendlineInstrumentation()],
});
sdk.start();
globalThis.__serviceSdk = sdk;
