import { context, ProxyTracerProvider, propagation, type TracerProvider, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { envDetector, hostDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  ConsoleLogRecordExporter,
  type LoggerProvider,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpendlineInstrumentation } from '../instrument/instrumentation.js';
import { beforeDeadline } from './boundedBatchQueue.js';
import { closableAgents } from './closableAgents.js';
import { logExportQueue, spanExportQueue } from './exportQueues.js';
import type { ResolvedProtocols, TelemetryOptions } from './options.js';
import { type Env, resourceAttributesFor } from './options.js';
import { QueuedLogRecordProcessor, QueuedSpanProcessor } from './processors.js';
import { type ResolvedConfig, resolveConfig } from './resolveConfig.js';
import { activeRuntime, setActiveRuntime } from './runtime.js';
import { emptyStats, StatsKeeper, type TelemetryStats } from './stats.js';

/** What {@link startTelemetry} returns. `shutdown()` flushes first. */
export interface TelemetryHandle {
  /** True when `SPENDLINE_DISABLED=true`, `disabled: true`, or a failure to start made the SDK a no-op. */
  readonly disabled: boolean;
  /** Where logs and traces go (after environment precedence). */
  readonly endpoints: { logsUrl: string; tracesUrl: string } | undefined;
  /** How each signal is sent (`OTEL_EXPORTER_OTLP_PROTOCOL` and its per-signal variants). */
  readonly protocols: ResolvedProtocols | undefined;
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
    protocols: undefined,
    configProblems,
    forceFlush: async () => {},
    shutdown: async () => {},
    stats: emptyStats,
  };
}

/**
/**
 * Starts an OpenTelemetry `NodeSDK` for a service that has no OpenTelemetry setup of its own:
 * OTLP/HTTP (JSON) export of spans and log records over bounded queues, `OTEL_*` variables and
 * resource detectors honoured, the {@link SpendlineInstrumentation} (so `openai`,
 * `@anthropic-ai/sdk`, ... loaded from now on are recorded without wrapping) plus any
 * `instrumentations` given. Registers the global tracer and logger providers, context manager
 * and propagator, as NodeSDK does; `shutdown()` flushes and unregisters them. A service that
 * already runs NodeSDK adds `SpendlineInstrumentation` to it instead.
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
    return start(options, config);
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

function start(options: TelemetryOptions, config: ResolvedConfig): TelemetryHandle {
  if (!config.exporters.logs.has('otlp'))
    warnOnce(
      config.onWarning,
      '@spendline/sdk: OTEL_LOGS_EXPORTER does not include otlp: usage records are not exported, and spendline cannot count this service.',
    );
  const env: Env = config.env;
  const stats = new StatsKeeper(config.onWarning, config.warningIntervalMillis);
  const { endpoints } = config;
  const s = stats.s;
  // Sockets the exporters open, closed at the shutdown deadline so nothing keeps the process alive.
  const agents = closableAgents();
  const logQueue = logExportQueue(
    endpoints.logsUrl,
    config.logsHeaders,
    config.logsLimits,
    stats,
    agents.factoryFor(config.logsTls),
    config.protocols.logs,
    config.logsTls,
  );
  const spanQueue = spanExportQueue(
    endpoints.tracesUrl,
    config.tracesHeaders,
    config.tracesLimits,
    stats,
    agents.factoryFor(config.tracesTls),
    config.protocols.traces,
    config.tracesTls,
  );
  const instrumentation = new SpendlineInstrumentation({
    enabled: false, // NodeSDK enables it once its providers are set
    captureContent: config.captureContent,
    priceOverrides: config.priceOverrides,
    onWarning: config.onWarning,
    statsKeeper: stats,
    budgets: options.budgets,
    env,
  });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes(resourceAttributesFor(env, config.resource)),
    // A test's own environment stands for process.env; detectors would read the real one.
    autoDetectResources: options.env === undefined,
    // NodeSDK's default adds the process detector, whose process.command_args can carry credentials
    // given on the command line; OTEL_NODE_RESOURCE_DETECTORS still chooses when set.
    ...(env.OTEL_NODE_RESOURCE_DETECTORS ? {} : { resourceDetectors: [envDetector, hostDetector] }),
    // OTEL_TRACES_EXPORTER / OTEL_LOGS_EXPORTER: otlp (to spendline), console, or none. With no span
    // processor NodeSDK registers no tracer provider: calls then make no spans at all.
    spanProcessors: [
      ...(config.exporters.traces.has('otlp') ? [new QueuedSpanProcessor(spanQueue)] : []),
      ...(config.exporters.traces.has('console') ? [new SimpleSpanProcessor(new ConsoleSpanExporter())] : []),
    ],
    logRecordProcessors: [
      ...(config.exporters.logs.has('otlp') ? [new QueuedLogRecordProcessor(logQueue)] : []),
      ...(config.exporters.logs.has('console')
        ? [new SimpleLogRecordProcessor({ exporter: new ConsoleLogRecordExporter() })]
        : []),
    ],
    // No metrics pipeline unless asked for: NodeSDK's default would push OTLP metrics every minute.
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    instrumentations: [instrumentation, ...(options.instrumentations ?? [])],
  });
  sdk.start();
  // NodeSDK keeps its providers to itself; records go through them directly, so they are exported
  // by this pipeline even if another setup already holds the globals.
  const own = sdk as unknown as { _tracerProvider?: TracerProvider; _loggerProvider?: LoggerProvider };
  if (own._tracerProvider) instrumentation.setTracerProvider(own._tracerProvider);
  if (own._loggerProvider) instrumentation.setLoggerProvider(own._loggerProvider);
  const global = trace.getTracerProvider();
  // This NodeSDK registered the globals (a tracer provider only when spans are exported at all).
  const ownsGlobals =
    (own._tracerProvider !== undefined &&
      global instanceof ProxyTracerProvider &&
      global.getDelegate() === own._tracerProvider) ||
    (own._loggerProvider !== undefined && logs.getLoggerProvider() === own._loggerProvider);
  const runtime = instrumentation.runtime;
  setActiveRuntime(runtime);

  const forceFlush = async (): Promise<void> => {
    try {
      await instrumentation.forceFlush();
      await Promise.all([
        (own._tracerProvider as { forceFlush?: () => Promise<void> } | undefined)?.forceFlush?.(),
        own._loggerProvider?.forceFlush(),
      ]);
    } catch {
      s.internalErrors++;
    }
  };
  let shutdownPromise: Promise<void> | undefined;
  return {
    disabled: false,
    endpoints,
    protocols: config.protocols,
    configProblems: config.problems,
    forceFlush,
    shutdown: () => {
      shutdownPromise ??= (async () => {
        const deadline = Date.now() + config.limits.shutdownTimeoutMillis;
        // Records finishing later (tokenizer estimates) get the same deadline as the exports.
        await beforeDeadline(Promise.all([...runtime.pending]), deadline);
        instrumentation.disable();
        if (activeRuntime() === runtime) setActiveRuntime(undefined);
        // The queues own the deadline; the SDK's shutdown then finds them already shut down.
        await Promise.all([logQueue.shutdown(deadline), spanQueue.shutdown(deadline)]);
        // One warning naming what both signals left unsent (not whichever queue gave up first).
        if (s.logsUnsent + s.spansUnsent > 0) stats.lost();
        await beforeDeadline(sdk.shutdown(), deadline);
        agents.closeAll();
        if (ownsGlobals) {
          trace.disable();
          logs.disable();
          context.disable();
          propagation.disable();
        }
      })().catch(() => {
        s.internalErrors++;
      });
      return shutdownPromise;
    },
    stats: () => stats.snapshot(),
  };
}
