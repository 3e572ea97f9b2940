import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { SdkLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { BoundedBatchQueue, type QueueLimits, type QueueListener } from './boundedBatchQueue.js';
import type { ClosableAgents } from './closableAgents.js';
import type { StatsKeeper } from './stats.js';

/** Queue sizes and timings shared by startTelemetry and the usage-record processor (validated by resolveConfig). */
export interface ExportOptions {
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  shutdownTimeoutMillis?: number;
  headers?: Record<string, string>;
}

/**
 * Counts one signal's exports, failures, drops and records left unsent at the shutdown deadline;
 * failures and drops warn (rate-limited) at once.
 */
function countingListener(stats: StatsKeeper, signal: 'logs' | 'spans'): QueueListener {
  const s = stats.s;
  return {
    exported: (n) => {
      s[`${signal}Exported`] += n;
    },
    failed: (n) => {
      s[`${signal}Failed`] += n;
      s.exportFailures++;
      stats.lost();
    },
    dropped: (n) => {
      s[`${signal}Dropped`] += n;
      stats.lost();
    },
    // Counted only: the shutdown that abandons them warns once, after both signals are counted.
    unsent: (n) => {
      s[`${signal}Unsent`] += n;
    },
  };
}

/** A bounded OTLP/HTTP log queue whose exports, failures and drops are counted in `stats`. */
export function logExportQueue(
  url: string,
  headers: Record<string, string>,
  limits: QueueLimits,
  stats: StatsKeeper,
  httpAgentOptions?: ClosableAgents['factory'],
): BoundedBatchQueue<SdkLogRecord> {
  return new BoundedBatchQueue<SdkLogRecord>(
    new OTLPLogExporter({ url, headers, timeoutMillis: limits.exportTimeoutMillis, httpAgentOptions }),
    limits,
    countingListener(stats, 'logs'),
  );
}

/** A bounded OTLP/HTTP span queue whose exports, failures and drops are counted in `stats`. */
export function spanExportQueue(
  url: string,
  headers: Record<string, string>,
  limits: QueueLimits,
  stats: StatsKeeper,
  httpAgentOptions?: ClosableAgents['factory'],
): BoundedBatchQueue<ReadableSpan> {
  return new BoundedBatchQueue<ReadableSpan>(
    new OTLPTraceExporter({ url, headers, timeoutMillis: limits.exportTimeoutMillis, httpAgentOptions }),
    limits,
    countingListener(stats, 'spans'),
  );
}
