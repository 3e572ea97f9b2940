import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { SdkLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { BoundedBatchQueue, type QueueLimits } from './boundedBatchQueue.js';
import { type Env, headersFor, type ResolvedEndpoints } from './options.js';
import type { StatsKeeper } from './stats.js';

/** Queue sizes and timings shared by startTelemetry and the usage-record processor. */
export interface ExportOptions {
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  headers?: Record<string, string>;
}

export function queueLimits(o: ExportOptions): QueueLimits {
  return {
    maxQueueSize: o.maxQueueSize ?? 2048,
    maxExportBatchSize: Math.min(o.maxExportBatchSize ?? 512, o.maxQueueSize ?? 2048),
    scheduledDelayMillis: o.scheduledDelayMillis ?? 1000,
    exportTimeoutMillis: o.exportTimeoutMillis ?? 10_000,
  };
}

/** A bounded OTLP/HTTP log queue whose exports, failures and drops are counted in `stats`. */
export function logExportQueue(
  env: Env,
  endpoints: ResolvedEndpoints,
  o: ExportOptions,
  stats: StatsKeeper,
): BoundedBatchQueue<SdkLogRecord> {
  const limits = queueLimits(o);
  const s = stats.s;
  return new BoundedBatchQueue<SdkLogRecord>(
    new OTLPLogExporter({
      url: endpoints.logsUrl,
      headers: headersFor(env, 'LOGS', o.headers),
      timeoutMillis: limits.exportTimeoutMillis,
    }),
    limits,
    {
      exported: (n) => {
        s.logsExported += n;
      },
      failed: (n) => {
        s.logsFailed += n;
        s.exportFailures++;
        stats.lost();
      },
      dropped: (n) => {
        s.logsDropped += n;
        stats.lost();
      },
    },
  );
}

/** A bounded OTLP/HTTP span queue whose exports, failures and drops are counted in `stats`. */
export function spanExportQueue(
  env: Env,
  endpoints: ResolvedEndpoints,
  o: ExportOptions,
  stats: StatsKeeper,
): BoundedBatchQueue<ReadableSpan> {
  const limits = queueLimits(o);
  const s = stats.s;
  return new BoundedBatchQueue<ReadableSpan>(
    new OTLPTraceExporter({
      url: endpoints.tracesUrl,
      headers: headersFor(env, 'TRACES', o.headers),
      timeoutMillis: limits.exportTimeoutMillis,
    }),
    limits,
    {
      exported: (n) => {
        s.spansExported += n;
      },
      failed: (n) => {
        s.spansFailed += n;
        s.exportFailures++;
        stats.lost();
      },
      dropped: (n) => {
        s.spansDropped += n;
        stats.lost();
      },
    },
  );
}
