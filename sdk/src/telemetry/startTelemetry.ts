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
import { BoundedBatchQueue, beforeDeadline, type QueueListener } from './boundedBatchQueue.js';
import { closableAgents } from './closableAgents.js';
import { type Env, resourceAttributesFor, type TelemetryOptions } from './options.js';
import { QueuedLogRecordProcessor, QueuedSpanProcessor } from './processors.js';
import { type ResolvedConfig, resolveConfig } from './resolveConfig.js';
import { activeRuntime, setActiveRuntime, type TelemetryRuntime } from './runtime.js';
import { emptyStats, StatsKeeper, type TelemetryStats } from './stats.js';

const SDK_VERSION = '0.1.0';

/** What {@link startTelemetry} returns. `shutdown()` flushes first. */
export interface TelemetryHandle {
  /** True when `SPENDLINE_DISABLED=true`, `disabled: true`, or a failure to start made the SDK a no-op. */
  readonly disabled: boolean;
  /** Where logs and traces go (after environment precedence). */
  readonly endpoints: { logsUrl: string; tracesUrl: string } | undefined;
  /** Options and variables that were refused (each named, with what is used instead); also warned once. */
  readonly configProblems: readonly string[];
  /** Finishes pending records and exports everything queued. Never rejects. */
  forceFlush(): Promise<void>;
  /**
   * Flushes, then stops exporting; later calls are no-ops. Never rejects, and resolves within
   * `shutdownTimeoutMillis` (default 5 s): records still unsent then are counted in `stats()`.
   */
  shutdown(): Promise<void>;
  /** A copy of the SDK's own counters. */
  stats(): TelemetryStats;
}

function disabledHandle(configProblems: readonly string[]): TelemetryHandle {
  return {
    disabled: true,
    endpoints: undefined,
    configProblems,
    forceFlush: async () => {},
    shutdown: async () => {},
    stats: emptyStats,
  };
}

/**
 * Starts exporting usage records over OTLP/HTTP (JSON) and makes this instance the one that
 * `recordLLMUsage` and instrumented clients emit through. Builds its own logger and tracer
 * providers; registers nothing global unless `registerGlobal: true`.
 *
 * Never throws: an invalid option or variable is warned about once and replaced by its default
 * (or the next endpoint source); if starting fails anyway, the SDK is disabled with a warning.
 */
export function startTelemetry(options: TelemetryOptions = {}): TelemetryHandle {
  let config: ResolvedConfig | undefined;
  try {
    config = resolveConfig(options, process.env);
    if (config.problems.length > 0) {
      warnOnce(
        config.onWarning,
        `@spendline/sdk: invalid configuration, falling back: ${config.problems.join('; ')}.`,
      );
    }
    if (config.disabled) return disabledHandle(config.problems);
    return start(config);
  } catch (err) {
    const problems = [
      ...(config?.problems ?? []),
      `start failed: ${err instanceof Error ? err.message : String(err)}`,
    ];
    warnOnce(
      config?.onWarning ?? ((m) => console.warn(m)),
      `@spendline/sdk: could not start (${problems[problems.length - 1]}); telemetry is disabled, instrumented calls work unrecorded.`,
    );
    return disabledHandle(problems);
  }
}

function warnOnce(warn: (message: string) => void, message: string): void {
  try {
    warn(message);
  } catch {
    // A throwing warning sink must not stop the host from starting.
  }
}

function start(config: ResolvedConfig): TelemetryHandle {
  const env: Env = config.env;
  const stats = new StatsKeeper(config.onWarning, config.warningIntervalMillis);
  const { endpoints, limits } = config;
  const resource = resourceFromAttributes(resourceAttributesFor(env, config.resource));
  const s = stats.s;
  const listener = (signal: 'logs' | 'spans'): QueueListener => ({
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
    unsent: (n) => {
      s[`${signal}Unsent`] += n;
      stats.lost();
    },
  });

  const agents = closableAgents();
  const httpAgentOptions = agents.factory;
  const logQueue = new BoundedBatchQueue<SdkLogRecord>(
    new OTLPLogExporter({
      url: endpoints.logsUrl,
      headers: config.logsHeaders,
      timeoutMillis: limits.exportTimeoutMillis,
      httpAgentOptions,
    }),
    limits,
    listener('logs'),
  );
  const spanQueue = new BoundedBatchQueue<ReadableSpan>(
    new OTLPTraceExporter({
      url: endpoints.tracesUrl,
      headers: config.tracesHeaders,
      timeoutMillis: limits.exportTimeoutMillis,
      httpAgentOptions,
    }),
    limits,
    listener('spans'),
  );
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new QueuedLogRecordProcessor(logQueue)],
  });
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new QueuedSpanProcessor(spanQueue)],
  });

  if (config.registerGlobal) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(tracerProvider);
    logs.setGlobalLoggerProvider(loggerProvider);
  }

  const runtime: TelemetryRuntime = {
    tracer: tracerProvider.getTracer(SDK_SCOPE_NAME, SDK_VERSION),
    logger: loggerProvider.getLogger(SDK_SCOPE_NAME, SDK_VERSION),
    stats,
    captureContent: config.captureContent,
    price: createUsagePricer(config.priceOverrides, (m) => {
      stats.s.internalErrors++;
      warnOnce(config.onWarning, m);
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
    configProblems: config.problems,
    forceFlush,
    shutdown: () => {
      shutdownPromise ??= (async () => {
        const deadline = Date.now() + config.limits.shutdownTimeoutMillis;
        // Records finishing later (tokenizer estimates) get the same deadline as the exports.
        await beforeDeadline(Promise.all([...runtime.pending]), deadline);
        if (activeRuntime() === runtime) setActiveRuntime(undefined);
        // The queues own the deadline; the providers' shutdown then finds them already shut down.
        await Promise.all([logQueue.shutdown(deadline), spanQueue.shutdown(deadline)]);
        await beforeDeadline(Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown()]), deadline);
        agents.closeAll();
      })().catch(() => {
        s.internalErrors++;
      });
      return shutdownPromise;
    },
    stats: () => stats.snapshot(),
  };
}
