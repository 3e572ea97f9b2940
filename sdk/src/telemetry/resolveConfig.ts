import type { AttributeValue } from '@opentelemetry/api';
import type { PriceOverride } from '../pricing/index.js';
import type { QueueLimits } from './boundedBatchQueue.js';
import type { TlsFiles } from './closableAgents.js';
import {
  type Env,
  headersFor,
  isRecord,
  isTrue,
  type ResolvedEndpoints,
  type ResolvedProtocols,
  resolveEndpoints,
  resolveProtocols,
  show,
  type TelemetryOptions,
  tlsFor,
} from './options.js';

/** The largest delay `setTimeout` honours (larger values fire at once). */
const MAX_TIMER_MS = 2_147_483_647;

/** Every numeric option: its default and the bounds a value must respect (integers, inclusive). */
export const NUMERIC_OPTIONS = {
  maxQueueSize: { default: 2048, min: 1, max: 1_000_000 },
  maxExportBatchSize: { default: 512, min: 1, max: 1_000_000 },
  scheduledDelayMillis: { default: 1000, min: 0, max: MAX_TIMER_MS },
  // The queue's own guard waits exportTimeoutMillis + 1 s, which must stay a valid timer delay.
  exportTimeoutMillis: { default: 10_000, min: 1, max: MAX_TIMER_MS - 1000 },
  shutdownTimeoutMillis: { default: 5000, min: 1, max: MAX_TIMER_MS },
  warningIntervalMillis: { default: 60_000, min: 0, max: Number.MAX_SAFE_INTEGER },
} as const;
type NumericOption = keyof typeof NUMERIC_OPTIONS;

/** The exporters `OTEL_TRACES_EXPORTER` / `OTEL_LOGS_EXPORTER` may name that this SDK runs. */
export type SignalExporter = 'otlp' | 'console';

/**
 * A signal's exporters from its variable (a comma-separated list, as OpenTelemetry's SDKs read it):
 * `otlp` (the default), `console`, or `none` alone for no export. Others (`zipkin`, …) are named in
 * `problems` and left out; a list left empty by them means `otlp`.
 */
function exportersOf(env: Env, name: string, problems: string[]): ReadonlySet<SignalExporter> {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return new Set(['otlp']);
  const values = raw
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (values.length === 1 && values[0] === 'none') return new Set();
  const out = new Set<SignalExporter>();
  for (const v of values) {
    if (v === 'otlp' || v === 'console') out.add(v);
    else problems.push(`${name} value ${show(v)} is not supported here (otlp, console or none); ignored`);
  }
  return out.size > 0 ? out : new Set(['otlp']);
}

/**
 * The standard variables a numeric option falls back to when it is not given, per signal, first
 * found wins: the batch processor's (`OTEL_BLRP_*` for logs, `OTEL_BSP_*` for spans) and the
 * exporter's timeout. An option given in code wins over them, as in OpenTelemetry's own SDKs.
 */
const SIGNAL_VARIABLES: Record<'LOGS' | 'TRACES', Partial<Record<NumericOption, string[]>>> = {
  LOGS: {
    maxQueueSize: ['OTEL_BLRP_MAX_QUEUE_SIZE'],
    maxExportBatchSize: ['OTEL_BLRP_MAX_EXPORT_BATCH_SIZE'],
    scheduledDelayMillis: ['OTEL_BLRP_SCHEDULE_DELAY'],
    exportTimeoutMillis: [
      'OTEL_EXPORTER_OTLP_LOGS_TIMEOUT',
      'OTEL_EXPORTER_OTLP_TIMEOUT',
      'OTEL_BLRP_EXPORT_TIMEOUT',
    ],
  },
  TRACES: {
    maxQueueSize: ['OTEL_BSP_MAX_QUEUE_SIZE'],
    maxExportBatchSize: ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE'],
    scheduledDelayMillis: ['OTEL_BSP_SCHEDULE_DELAY'],
    exportTimeoutMillis: [
      'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
      'OTEL_EXPORTER_OTLP_TIMEOUT',
      'OTEL_BSP_EXPORT_TIMEOUT',
    ],
  },
};

/** Options after validation: every field has a usable value. */
export interface ResolvedConfig {
  env: Env;
  disabled: boolean;
  protocols: ResolvedProtocols;
  /** `OTEL_TRACES_EXPORTER` / `OTEL_LOGS_EXPORTER`: where each signal goes (empty: nowhere). */
  exporters: { traces: ReadonlySet<SignalExporter>; logs: ReadonlySet<SignalExporter> };
  endpoints: ResolvedEndpoints;
  logsHeaders: Record<string, string>;
  tracesHeaders: Record<string, string>;
  logsTls: TlsFiles;
  tracesTls: TlsFiles;
  /** The logs queue's limits (`shutdownTimeoutMillis` is the same for both signals). */
  limits: QueueLimits;
  logsLimits: QueueLimits;
  tracesLimits: QueueLimits;
  warningIntervalMillis: number;
  onWarning: (message: string) => void;
  captureContent: boolean;
  priceOverrides: PriceOverride[] | string | undefined;
  resource: {
    serviceName?: string;
    serviceVersion?: string;
    environment?: string;
    resourceAttributes?: Record<string, AttributeValue>;
  };
  /** One line per value that was refused, naming the value and what is used instead. */
  problems: string[];
}

/**
 * Validates every option and environment variable `startTelemetry` reads. Nothing here throws: a
 * refused value is replaced by its default (or the next source in the precedence order) and named
 * in `problems`, which `startTelemetry` prints once.
 */
export function resolveConfig(rawOptions: unknown, processEnv: Env): ResolvedConfig {
  const problems: string[] = [];
  const o: TelemetryOptions = isRecord(rawOptions) ? (rawOptions as TelemetryOptions) : {};
  if (rawOptions !== undefined && !isRecord(rawOptions))
    problems.push(`options ${show(rawOptions)} is not an object; using defaults`);

  let env: Env = processEnv;
  if (o.env !== undefined) {
    if (isRecord(o.env)) {
      // Only strings are environment values; anything else is named and left out.
      const strings: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.env)) {
        if (typeof v === 'string') strings[k] = v;
        else if (v !== undefined) problems.push(`env.${k} ${show(v)} is not a string; ignored`);
      }
      env = strings;
    } else problems.push(`env ${show(o.env)} is not an object; reading process.env`);
  }

  let onWarning: (message: string) => void = (m) => console.warn(m);
  if (o.onWarning !== undefined) {
    if (typeof o.onWarning === 'function') onWarning = o.onWarning;
    else problems.push(`onWarning ${show(o.onWarning)} is not a function; using console.warn`);
  }

  /** An option's value when it is given and valid (an invalid one is named once), else undefined. */
  const option = (name: NumericOption): number | undefined => {
    const spec = NUMERIC_OPTIONS[name];
    const v: unknown = o[name];
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isInteger(v) && v >= spec.min && v <= spec.max) return v;
    problems.push(`${name} ${show(v)} is not an integer in ${spec.min}..${spec.max}; using ${spec.default}`);
    return undefined;
  };
  const given = new Map<NumericOption, number | undefined>();
  for (const name of Object.keys(NUMERIC_OPTIONS) as NumericOption[]) given.set(name, option(name));
  /** A numeric setting: the option, else the signal's standard variables (first valid), else the default. */
  const num = (name: NumericOption, signal?: 'LOGS' | 'TRACES'): number => {
    const spec = NUMERIC_OPTIONS[name];
    const fromOption = given.get(name);
    if (fromOption !== undefined) return fromOption;
    if (signal === undefined) return spec.default;
    for (const variable of SIGNAL_VARIABLES[signal][name] ?? []) {
      const raw = env[variable]?.trim();
      if (!raw) continue;
      const n = Number(raw);
      if (/^\d+$/.test(raw) && n >= spec.min && n <= spec.max) return n;
      // OTEL_EXPORTER_OTLP_TIMEOUT is read for both signals: its problem is named once (LOGS pass).
      if (variable !== 'OTEL_EXPORTER_OTLP_TIMEOUT' || signal === 'LOGS')
        problems.push(`${variable} ${show(raw)} is not an integer in ${spec.min}..${spec.max}; ignored`);
    }
    return spec.default;
  };
  const shutdownTimeoutMillis = num('shutdownTimeoutMillis');
  const limitsOf = (signal: 'LOGS' | 'TRACES'): QueueLimits => {
    const maxQueueSize = num('maxQueueSize', signal);
    return {
      maxQueueSize,
      // A batch larger than the queue could never fill; the queue size bounds it (not a problem).
      maxExportBatchSize: Math.min(num('maxExportBatchSize', signal), maxQueueSize),
      scheduledDelayMillis: num('scheduledDelayMillis', signal),
      exportTimeoutMillis: num('exportTimeoutMillis', signal),
      shutdownTimeoutMillis,
    };
  };
  const logsLimits = limitsOf('LOGS');
  const tracesLimits = limitsOf('TRACES');

  const flag = (name: 'disabled' | 'captureContent' | 'registerGlobal'): boolean => {
    const v: unknown = o[name];
    if (v === undefined || typeof v === 'boolean') return v === true;
    problems.push(`${name} ${show(v)} is not a boolean; using false`);
    return false;
  };

  const text = (name: 'serviceName' | 'serviceVersion' | 'environment'): string | undefined => {
    const v: unknown = o[name];
    if (v === undefined || typeof v === 'string') return v;
    problems.push(`${name} ${show(v)} is not a string; ignored`);
    return undefined;
  };

  let resourceAttributes: Record<string, AttributeValue> | undefined;
  if (o.resourceAttributes !== undefined) {
    if (isRecord(o.resourceAttributes)) {
      resourceAttributes = {};
      for (const [k, v] of Object.entries(o.resourceAttributes)) {
        if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))
          resourceAttributes[k] = v;
        else
          problems.push(
            `resourceAttributes.${k} ${show(v)} is not a string, finite number or boolean; ignored`,
          );
      }
    } else problems.push(`resourceAttributes ${show(o.resourceAttributes)} is not an object; ignored`);
  }

  let priceOverrides: PriceOverride[] | string | undefined;
  if (o.priceOverrides !== undefined) {
    if (typeof o.priceOverrides === 'string' || Array.isArray(o.priceOverrides))
      priceOverrides = o.priceOverrides;
    else problems.push(`priceOverrides ${show(o.priceOverrides)} is not a list or a file path; ignored`);
  }

  flag('registerGlobal'); // deprecated and ignored (NodeSDK registers the globals), still validated
  const protocols = resolveProtocols(env, problems);
  const exporters = {
    traces: exportersOf(env, 'OTEL_TRACES_EXPORTER', problems),
    logs: exportersOf(env, 'OTEL_LOGS_EXPORTER', problems),
  };
  return {
    env,
    disabled: flag('disabled') || isTrue(env.SPENDLINE_DISABLED) || isTrue(env.OTEL_SDK_DISABLED),
    protocols,
    exporters,
    endpoints: resolveEndpoints(env, o.endpoint, problems, protocols),
    logsHeaders: headersFor(env, 'LOGS', o.headers, problems),
    tracesHeaders: headersFor(env, 'TRACES', o.headers, problems),
    logsTls: tlsFor(env, 'LOGS', problems),
    tracesTls: tlsFor(env, 'TRACES', problems),
    limits: logsLimits,
    logsLimits,
    tracesLimits,
    warningIntervalMillis: num('warningIntervalMillis'),
    onWarning,
    captureContent: flag('captureContent') || isTrue(env.SPENDLINE_CAPTURE_CONTENT),
    priceOverrides,
    resource: {
      serviceName: text('serviceName'),
      serviceVersion: text('serviceVersion'),
      environment: text('environment'),
      resourceAttributes,
    },
    problems,
  };
}
