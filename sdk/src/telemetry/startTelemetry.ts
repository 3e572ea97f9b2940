import { context, propagation, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type SdkLogRecord } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SDK_SCOPE_NAME } from '../contract.js';
import { createUsagePricer } from '../record/price.js';
import { BoundedBatchQueue, type QueueLimits } from './boundedBatchQueue.js';
import {
  type Env,
  headersFor,
  isTrue,
  resolveEndpoints,
  resourceAttributesFor,
  type TelemetryOptions,
} from './options.js';
import { QueuedLogRecordProcessor, QueuedSpanProcessor } from './processors.js';
import { activeRuntime, setActiveRuntime, type TelemetryRuntime } from './runtime.js';
import { emptyStats, StatsKeeper, type TelemetryStats } from './stats.js';

const SDK_VERSION = '0.1.0';

/** What {@link startTelemetry} returns. `shutdown()` flushes first. */
export interface TelemetryHandle {
  /** True when `SPENDLINE_DISABLED=true` or `disabled: true` made the SDK a no-op. */
  readonly disabled: boolean;
  /** Where logs and traces go (after environment precedence). */
  readonly endpoints: { logsUrl: string; tracesUrl: string } | undefined;
  /** Finishes pending records and exports everything queued. Never rejects. */
  forceFlush(): Promise<void>;
  /** Flushes, then stops exporting; later calls are no-ops. Never rejects. */
  shutdown(): Promise<void>;
  /** A copy of the SDK's own counters. */
  stats(): TelemetryStats;
}

function disabledHandle(): TelemetryHandle {
  return {
    disabled: true,
    endpoints: undefined,
    forceFlush: async () => {},
    shutdown: async () => {},
    stats: emptyStats,
  };
}

/**
 * Starts exporting usage records over OTLP/HTTP (JSON) and makes this instance the one that
 * `recordLLMUsage` and instrumented clients emit through. Builds its own logger and tracer
 * providers; registers nothing global unless `registerGlobal: true`.
 */
export function startTelemetry(options: TelemetryOptions = {}): TelemetryHandle {
  const env: Env = options.env ?? process.env;
  if (options.disabled || isTrue(env.SPENDLINE_DISABLED)) return disabledHandle();

  const stats = new StatsKeeper(
    options.onWarning ?? ((m) => console.warn(m)),
    options.warningIntervalMillis ?? 60_000,
  );
  const endpoints = resolveEndpoints(env, options.endpoint);
  const resource = resourceFromAttributes(resourceAttributesFor(env, options));
  const limits: QueueLimits = {
    maxQueueSize: options.maxQueueSize ?? 2048,
    maxExportBatchSize: Math.min(options.maxExportBatchSize ?? 512, options.maxQueueSize ?? 2048),
    scheduledDelayMillis: options.scheduledDelayMillis ?? 1000,
    exportTimeoutMillis: options.exportTimeoutMillis ?? 10_000,
  };
  const s = stats.s;

  const logQueue = new BoundedBatchQueue<SdkLogRecord>(
    new OTLPLogExporter({
      url: endpoints.logsUrl,
      headers: headersFor(env, 'LOGS', options.headers),
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
  const spanQueue = new BoundedBatchQueue<ReadableSpan>(
    new OTLPTraceExporter({
      url: endpoints.tracesUrl,
      headers: headersFor(env, 'TRACES', options.headers),
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
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new QueuedLogRecordProcessor(logQueue)],
  });
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new QueuedSpanProcessor(spanQueue)],
  });

  if (options.registerGlobal) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(tracerProvider);
    logs.setGlobalLoggerProvider(loggerProvider);
  }

  const runtime: TelemetryRuntime = {
    tracer: tracerProvider.getTracer(SDK_SCOPE_NAME, SDK_VERSION),
    logger: loggerProvider.getLogger(SDK_SCOPE_NAME, SDK_VERSION),
    stats,
    captureContent: options.captureContent === true || isTrue(env.SPENDLINE_CAPTURE_CONTENT),
    price: createUsagePricer(options.priceOverrides, (m) => {
      stats.s.internalErrors++;
      (options.onWarning ?? console.warn)(m);
    }),
    pending: new Set(),
  };
  setActiveRuntime(runtime);

  const forceFlush = async (): Promise<void> => {
    try {
      while (runtime.pending.size > 0) await Promise.all([...runtime.pending]);
      await Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush()]);
    } catch {
      s.internalErrors++;
    }
  };
  let shutdownPromise: Promise<void> | undefined;
  return {
    disabled: false,
    endpoints,
    forceFlush,
    shutdown: () => {
      shutdownPromise ??= (async () => {
        await forceFlush();
        if (activeRuntime() === runtime) setActiveRuntime(undefined);
        try {
          await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown()]);
        } catch {
          s.internalErrors++;
        }
      })();
      return shutdownPromise;
    },
    stats: () => stats.snapshot(),
  };
}
