import { context, ProxyTracerProvider, propagation, type TracerProvider, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  type Resource,
  type ResourceDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { ConsoleLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpendlineInstrumentation } from '../instrument/instrumentation.js';
import { beforeDeadline } from './boundedBatchQueue.js';
import { closableAgents } from './closableAgents.js';
import { DirectRecords, LOG_RECORD_LIMIT_VARIABLES, recordsMayGoDirect } from './directRecords.js';
import { DirectSpans, spansMayGoDirect } from './directSpans.js';
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
 * already runs NodeSDK adds `SpendlineInstrumentation` to it instead. Started after a setup of the
 * service's own that holds the globals, it registers nothing: its spans go through the service's
 * tracer provider (so into the service's traces and exports) and its records through its own
 * logger provider to spendline's endpoint.
 *
 * Never throws: an invalid option or variable is warned about once and replaced by its default
 * (or the next endpoint source); if starting fails anyway, the SDK is disabled with a warning.
 */
export function startTelemetry(options: TelemetryOptions = {}): TelemetryHandle {
  return withConfig(options, (config) => start(options, config));
}

/**
 * Resolves and validates the options (each refused one warned about once), then `run`s with them;
 * disabled, or failing to start, it returns a disabled handle (with a warning) instead of throwing.
 */
function withConfig(
  options: TelemetryOptions,
  run: (config: ResolvedConfig) => TelemetryHandle,
): TelemetryHandle {
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
    return run(config);
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

/** A tracer provider whose spans are not recorded (guest of a setup without one, and no span exporter). */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

function warnOnce(warn: (message: string) => void, message: string): void {
  try {
    warn(message);
  } catch {
    // A throwing warning sink must not stop the host from starting.
  }
}

/** The OpenTelemetry API's global object (all 1.x API copies share it, whichever registered first). */
const OTEL_API_GLOBAL = Symbol.for('opentelemetry.js.api.1');
/** The globals registered through the OpenTelemetry API (`trace`, `context`, `propagation`, ...). */
function apiGlobals(): Record<string, unknown> | undefined {
  return (globalThis as Record<symbol, Record<string, unknown> | undefined>)[OTEL_API_GLOBAL];
}
/** Tracer providers of this SDK's own running pipelines (another `startTelemetry` is not a host setup). */
const ownTracerProviders = new WeakSet<object>();

/**
 * The OpenTelemetry setup the service made itself, when it holds the globals (its own NodeSDK,
 * `--import @opentelemetry/auto-instrumentations-node/register`, started before spendline): `present`,
 * and its tracer provider when this API copy can use it (a 1.x API of this minor or newer; an older
 * one registered globals this copy refuses).
 */
function hostSetup(): { present: boolean; tracerProvider?: TracerProvider | undefined } {
  const api = apiGlobals();
  if (api?.trace === undefined && api?.context === undefined) return { present: false };
  const global = trace.getTracerProvider() as TracerProvider & { getDelegate?: () => TracerProvider };
  const delegate = typeof global.getDelegate === 'function' ? global.getDelegate() : global;
  if (ownTracerProviders.has(delegate)) return { present: false };
  const usable = !/^Noop/.test((delegate as { constructor?: { name?: string } }).constructor?.name ?? '');
  return { present: true, tracerProvider: usable ? global : undefined };
}

/**
 * Exports the spans a tracer provider holds. The service's provider is reached through the API's global
 * proxy, which has no forceFlush of its own: its delegate (the SDK's provider) is flushed.
 */
async function flushSpans(provider: TracerProvider | undefined): Promise<void> {
  type Flushable = { forceFlush?: () => Promise<void>; getDelegate?: () => TracerProvider };
  const p = provider as Flushable | undefined;
  const target = typeof p?.forceFlush === 'function' ? p : (p?.getDelegate?.() as Flushable | undefined);
  await target?.forceFlush?.();
}

/**
 * NodeSDK's resource: ours (from the validated options: a refused value is never exported), then what
 * the detectors find (they win), as `OTEL_NODE_RESOURCE_DETECTORS` chooses.
 */
function telemetryResource(options: TelemetryOptions, config: ResolvedConfig, env: Env): Resource {
  const ours = resourceFromAttributes(resourceAttributesFor(env, config.resource));
  // A test's own environment stands for process.env; detectors would read the real one.
  if (options.env !== undefined) return ours;
  return ours.merge(detectResources({ detectors: resourceDetectors(env.OTEL_NODE_RESOURCE_DETECTORS) }));
}

const DETECTORS: ReadonlyMap<string, ResourceDetector> = new Map([
  ['env', envDetector],
  ['host', hostDetector],
  ['os', osDetector],
  ['process', processDetector],
  ['serviceinstance', serviceInstanceIdDetector],
]);

/**
 * NodeSDK's detector names. Unset: env and host only — NodeSDK's default adds the process detector,
 * whose `process.command_args` can carry credentials given on the command line.
 */
function resourceDetectors(names: string | undefined): ResourceDetector[] {
  const list = (names ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (list.length === 0) return [envDetector, hostDetector];
  if (list.includes('all')) return [...DETECTORS.values()];
  if (list.includes('none')) return [];
  return list.flatMap((n) => DETECTORS.get(n) ?? []);
}

/**
 * A limit variable as NodeSDK reads it (`getNonNegativeNumberFromEnv`): a number above 0, else undefined
 * (the default). A 0 is invalid there; taken as a count limit it would strip every record of its attributes.
 */
function positiveNumber(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return n > 0 ? n : undefined;
}

/** NodeSDK's log record limits from `OTEL_LOGRECORD_ATTRIBUTE_*` (else `OTEL_ATTRIBUTE_*`), for the guest's own logger provider. */
function logRecordLimitsFromEnv(env: Env): {
  attributeCountLimit?: number;
  attributeValueLengthLimit?: number;
} {
  const limit = ([own, general]: readonly [string, string]) =>
    positiveNumber(env[own]) ?? positiveNumber(env[general]);
  const count = limit(LOG_RECORD_LIMIT_VARIABLES.attributeCountLimit);
  const length = limit(LOG_RECORD_LIMIT_VARIABLES.attributeValueLengthLimit);
  return {
    ...(count === undefined ? {} : { attributeCountLimit: count }),
    ...(length === undefined ? {} : { attributeValueLengthLimit: length }),
  };
}

function start(
  options: TelemetryOptions,
  config: ResolvedConfig,
  prepared?: { stats: StatsKeeper; instrumentation: SpendlineInstrumentation },
): TelemetryHandle {
  if (!config.exporters.logs.has('otlp'))
    warnOnce(
      config.onWarning,
      '@spendline/sdk: OTEL_LOGS_EXPORTER does not include otlp: usage records are not exported, and spendline cannot count this service.',
    );
  const env: Env = config.env;
  const stats = prepared?.stats ?? new StatsKeeper(config.onWarning, config.warningIntervalMillis);
  const { endpoints } = config;
  const s = stats.s;
  const host = hostSetup();
  // Beside the service's own setup, spans go through its tracer provider (its exporters, its
  // sampler, its traces) instead of a second pipeline; the call's marks (record/callContext.ts) keep
  // another instrumentation's span of it uncounted. Records still go to spendline's endpoint.
  const hostTracerProvider = host.present ? host.tracerProvider : undefined;
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
  const instrumentation =
    prepared?.instrumentation ??
    new SpendlineInstrumentation({
      enabled: false, // enabled once its providers are set
      captureContent: config.captureContent,
      priceOverrides: config.priceOverrides,
      onWarning: config.onWarning,
      statsKeeper: stats,
      budgets: options.budgets,
      env,
    });
  const resource = telemetryResource(options, config, env);
  // OTEL_TRACES_EXPORTER / OTEL_LOGS_EXPORTER: otlp (to spendline), console, or none. With no span
  // processor NodeSDK registers no tracer provider: calls then make no spans at all.
  // Calls' spans may skip the tracer into the queue when the tracer provider is spendline's own, the
  // queue is its only processor and nothing changes how it makes spans (directSpans.ts).
  const directSpans =
    hostTracerProvider === undefined &&
    config.exporters.traces.size === 1 &&
    config.exporters.traces.has('otlp') &&
    spansMayGoDirect(env, process.env)
      ? new DirectSpans(spanQueue)
      : undefined;
  const spanProcessors = hostTracerProvider
    ? []
    : [
        ...(config.exporters.traces.has('otlp') ? [new QueuedSpanProcessor(spanQueue, directSpans)] : []),
        ...(config.exporters.traces.has('console')
          ? [new SimpleSpanProcessor(new ConsoleSpanExporter())]
          : []),
      ];
  // Records may skip the logger into the queue when the queue is the logger provider's only processor
  // and nothing changes how the provider builds them (directRecords.ts).
  const direct =
    config.exporters.logs.size === 1 &&
    config.exporters.logs.has('otlp') &&
    recordsMayGoDirect(env, process.env)
      ? new DirectRecords(logQueue)
      : undefined;
  const logRecordProcessors = [
    ...(config.exporters.logs.has('otlp') ? [new QueuedLogRecordProcessor(logQueue, direct)] : []),
    ...(config.exporters.logs.has('console')
      ? [new SimpleLogRecordProcessor({ exporter: new ConsoleLogRecordExporter() })]
      : []),
  ];
  const extra = options.instrumentations ?? [];
  let tracerProvider: TracerProvider | undefined;
  let loggerProvider: LoggerProvider | undefined;
  let sdk: NodeSDK | undefined;
  /** Guest of a setup without a usable tracer provider: spendline's own, not registered. */
  let ownTracer: BasicTracerProvider | undefined;
  let hadContext = true;
  let hadPropagation = true;
  if (host.present) {
    // Guest of the service's setup: nothing registered as a global (its providers, context manager
    // and propagator stay the ones in use); the records' logger provider is spendline's own.
    ownTracer =
      hostTracerProvider === undefined && spanProcessors.length > 0
        ? new BasicTracerProvider({ resource, spanProcessors })
        : undefined;
    tracerProvider = hostTracerProvider ?? ownTracer;
    loggerProvider = new LoggerProvider({
      resource,
      processors: logRecordProcessors,
      logRecordLimits: logRecordLimitsFromEnv(env),
    });
    instrumentation.setTracerProvider(tracerProvider ?? NOOP_TRACER_PROVIDER);
    instrumentation.setLoggerProvider(loggerProvider);
    if (!instrumentation.isEnabled()) instrumentation.enable();
    if (extra.length > 0)
      registerInstrumentations({ instrumentations: extra, tracerProvider, loggerProvider });
    if (ownTracer) ownTracerProviders.add(ownTracer);
  } else {
    // Globals the service registered itself (a propagator, a logger provider for its own logs) stay its.
    const had = apiGlobals();
    hadContext = had?.context !== undefined;
    hadPropagation = had?.propagation !== undefined;
    sdk = new NodeSDK({
      resource,
      autoDetectResources: false, // detected above, as NodeSDK would
      spanProcessors,
      logRecordProcessors,
      // No metrics pipeline unless asked for: NodeSDK's default would push OTLP metrics every minute.
      ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
      instrumentations: [instrumentation, ...extra],
    });
    sdk.start();
    // NodeSDK keeps its providers to itself; records go through them directly, so they are exported
    // by this pipeline even if another setup already holds the globals.
    const own = sdk as unknown as { _tracerProvider?: TracerProvider; _loggerProvider?: LoggerProvider };
    tracerProvider = own._tracerProvider;
    loggerProvider = own._loggerProvider;
    if (tracerProvider) {
      ownTracerProviders.add(tracerProvider);
      instrumentation.setTracerProvider(tracerProvider);
    }
    if (loggerProvider) instrumentation.setLoggerProvider(loggerProvider);
  }
  const global = trace.getTracerProvider();
  // The globals this NodeSDK registered (a tracer provider only when spans are exported at all): only
  // those are unregistered at shutdown.
  const now = apiGlobals();
  const owns = {
    trace:
      sdk !== undefined &&
      tracerProvider !== undefined &&
      global instanceof ProxyTracerProvider &&
      global.getDelegate() === tracerProvider,
    logs: sdk !== undefined && loggerProvider !== undefined && logs.getLoggerProvider() === loggerProvider,
    context: sdk !== undefined && !hadContext && now?.context !== undefined,
    propagation: sdk !== undefined && !hadPropagation && now?.propagation !== undefined,
  };
  const runtime = instrumentation.runtime;
  // Records not sent to spendline (OTEL_LOGS_EXPORTER none or console): another instrumentation's spans
  // of a call are then the only count of it, and stay unmarked.
  runtime.marksPeerSpans = config.exporters.logs.has('otlp');
  runtime.directRecords = direct;
  runtime.directSpans = directSpans;
  setActiveRuntime(runtime);

  const forceFlush = async (): Promise<void> => {
    try {
      await instrumentation.forceFlush();
      await Promise.all([flushSpans(tracerProvider), loggerProvider?.forceFlush()]);
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
        // Those still unfinished at the deadline will never be exported: unsent, not silently gone.
        s.logsUnsent += runtime.pending.size;
        if (runtime.directRecords === direct) runtime.directRecords = undefined;
        if (runtime.directSpans === directSpans) runtime.directSpans = undefined;
        instrumentation.disable();
        for (const i of extra) i.disable();
        if (activeRuntime() === runtime) setActiveRuntime(undefined);
        // The service's tracer provider is not ours to shut down: our spans in it are flushed.
        if (hostTracerProvider) await beforeDeadline(flushSpans(hostTracerProvider), deadline);
        // The queues own the deadline; the SDK's shutdown then finds them already shut down.
        await Promise.all([logQueue.shutdown(deadline), spanQueue.shutdown(deadline)]);
        // One warning naming what both signals left unsent (not whichever queue gave up first).
        if (s.logsUnsent + s.spansUnsent > 0) stats.lost();
        if (sdk) await beforeDeadline(sdk.shutdown(), deadline);
        else await beforeDeadline(Promise.all([loggerProvider?.shutdown(), ownTracer?.shutdown()]), deadline);
        agents.closeAll();
        if (owns.trace) trace.disable();
        if (owns.logs) logs.disable();
        if (owns.context) context.disable();
        if (owns.propagation) propagation.disable();
      })().catch(() => {
        s.internalErrors++;
      });
      return shutdownPromise;
    },
    stats: () => stats.snapshot(),
  };
}

/**
 * `startTelemetry` for `@spendline/sdk/register`: the clients are patched now (their modules are
 * loaded later), the pipeline starts with the first record. A setup the service makes itself at
 * start-up — its own NodeSDK, or `--import @opentelemetry/auto-instrumentations-node/register` after
 * ours — then registers its globals as if spendline were not there (an OpenTelemetry 3.x setup
 * cannot use globals an older API copy registered first: its tracing would silently stop), and
 * spendline joins it as a guest. With no setup of its own, spendline's NodeSDK registers the globals
 * at the first record.
 */
export function startTelemetryOnFirstRecord(options: TelemetryOptions = {}): TelemetryHandle {
  return withConfig(options, (resolved) => {
    const stats = new StatsKeeper(resolved.onWarning, resolved.warningIntervalMillis);
    let started: TelemetryHandle | undefined;
    let stopped = false;
    const instrumentation: SpendlineInstrumentation = new SpendlineInstrumentation({
      captureContent: resolved.captureContent,
      priceOverrides: resolved.priceOverrides,
      onWarning: resolved.onWarning,
      statsKeeper: stats,
      budgets: options.budgets,
      env: resolved.env,
      beforeFirstRecord: () => {
        if (stopped) return;
        try {
          started = start(options, resolved, { stats, instrumentation });
        } catch (err) {
          // Calls still go through the wrappers, their records nowhere: other spans of them stay counted.
          instrumentation.runtime.marksPeerSpans = false;
          warnOnce(
            resolved.onWarning,
            `@spendline/sdk: could not start (${err instanceof Error ? err.message : String(err)}); calls work unrecorded.`,
          );
        }
      },
    });
    setActiveRuntime(instrumentation.runtime);
    return {
      disabled: false,
      endpoints: resolved.endpoints,
      protocols: resolved.protocols,
      configProblems: resolved.problems,
      forceFlush: async () => {
        await (started?.forceFlush() ?? instrumentation.forceFlush().catch(() => undefined));
      },
      shutdown: async () => {
        stopped = true;
        if (started) return started.shutdown();
        instrumentation.disable();
        if (activeRuntime() === instrumentation.runtime) setActiveRuntime(undefined);
      },
      stats: () => stats.snapshot(),
    };
  });
}
