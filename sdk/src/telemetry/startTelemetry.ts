import { context, ProxyTracerProvider, propagation, type TracerProvider, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { envDetector, hostDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { LoggerProvider } from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { SpendlineInstrumentation } from '../instrument/instrumentation.js';
import { logExportQueue, spanExportQueue } from './exportQueues.js';
import {
  type Env,
  isTrue,
  resolveEndpoints,
  resourceAttributesFor,
  type TelemetryOptions,
} from './options.js';
import { QueuedLogRecordProcessor, QueuedSpanProcessor } from './processors.js';
import { activeRuntime, setActiveRuntime } from './runtime.js';
import { emptyStats, StatsKeeper, type TelemetryStats } from './stats.js';

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
 * Starts an OpenTelemetry `NodeSDK` for a service that has no OpenTelemetry setup of its own:
 * OTLP/HTTP (JSON) export of spans and log records over bounded queues, `OTEL_*` variables and
 * resource detectors honoured, the {@link SpendlineInstrumentation} (so `openai`,
 * `@anthropic-ai/sdk`, ... loaded from now on are recorded without wrapping) plus any
 * `instrumentations` given. Registers the global tracer and logger providers, context manager
 * and propagator, as NodeSDK does; `shutdown()` flushes and unregisters them. A service that
 * already runs NodeSDK adds `SpendlineInstrumentation` to it instead.
 */
export function startTelemetry(options: TelemetryOptions = {}): TelemetryHandle {
  const env: Env = options.env ?? process.env;
  if (options.disabled || isTrue(env.SPENDLINE_DISABLED) || isTrue(env.OTEL_SDK_DISABLED))
    return disabledHandle();

  const onWarning = options.onWarning ?? ((m: string) => console.warn(m));
  const stats = new StatsKeeper(onWarning, options.warningIntervalMillis ?? 60_000);
  const endpoints = resolveEndpoints(env, options.endpoint);
  const s = stats.s;
  const instrumentation = new SpendlineInstrumentation({
    enabled: false, // NodeSDK enables it once its providers are set
    captureContent: options.captureContent === true || isTrue(env.SPENDLINE_CAPTURE_CONTENT),
    priceOverrides: options.priceOverrides,
    onWarning,
    statsKeeper: stats,
    budgets: options.budgets,
    env,
  });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes(resourceAttributesFor(env, options)),
    // A test's own environment stands for process.env; detectors would read the real one.
    autoDetectResources: options.env === undefined,
    // NodeSDK's default adds the process detector, whose process.command_args can carry credentials
    // given on the command line; OTEL_NODE_RESOURCE_DETECTORS still chooses when set.
    ...(env.OTEL_NODE_RESOURCE_DETECTORS ? {} : { resourceDetectors: [envDetector, hostDetector] }),
    spanProcessors: [new QueuedSpanProcessor(spanExportQueue(env, endpoints, options, stats))],
    logRecordProcessors: [new QueuedLogRecordProcessor(logExportQueue(env, endpoints, options, stats))],
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
  const ownsGlobals = global instanceof ProxyTracerProvider && global.getDelegate() === own._tracerProvider;
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
    forceFlush,
    shutdown: () => {
      shutdownPromise ??= (async () => {
        await forceFlush();
        instrumentation.disable();
        if (activeRuntime() === runtime) setActiveRuntime(undefined);
        try {
          await sdk.shutdown();
        } catch {
          s.internalErrors++;
        }
        if (ownsGlobals) {
          trace.disable();
          logs.disable();
          context.disable();
          propagation.disable();
        }
      })();
      return shutdownPromise;
    },
    stats: () => stats.snapshot(),
  };
}
