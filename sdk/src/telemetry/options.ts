import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AttributeValue } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { BudgetOptions } from '../budget/budgetGuard.js';
import { RESOURCE_ATTR } from '../contract.js';
import type { PriceOverride } from '../pricing/index.js';
import type { TlsFiles } from './closableAgents.js';

/** Environment as read by the SDK; `process.env` unless a test passes its own. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Options of {@link startTelemetry}. Every field is optional; environment variables fill the gaps. */
export interface TelemetryOptions {
  /** `service.name`. `OTEL_SERVICE_NAME` wins over it (standard OpenTelemetry precedence). */
  serviceName?: string;
  /** `service.version`. */
  serviceVersion?: string;
  /** `deployment.environment.name`. */
  environment?: string;
  /** Extra resource attributes; `OTEL_RESOURCE_ATTRIBUTES` entries override these keys. */
  resourceAttributes?: Record<string, AttributeValue>;
  /** OTLP/HTTP base URL (like `OTLP_ENDPOINT`). Environment variables win over it. */
  endpoint?: string;
  /** Extra OTLP headers; `OTEL_EXPORTER_OTLP_HEADERS` entries override these keys. */
  headers?: Record<string, string>;
  /** Capture prompt and completion text into the record. Off unless this or `SPENDLINE_CAPTURE_CONTENT=true`. */
  captureContent?: boolean;
  /** Turn the SDK into a no-op. `SPENDLINE_DISABLED=true` does the same. */
  disabled?: boolean;
  /** Most records (per signal) held in memory while the collector is slow or down; more are dropped and counted. Default 2048. */
  maxQueueSize?: number;
  /** Records per OTLP request. Default 512. */
  maxExportBatchSize?: number;
  /** How long a record waits before a batch is sent. Default 1000 ms. */
  scheduledDelayMillis?: number;
  /** Per-request export timeout (retries included). Default 10000 ms. */
  exportTimeoutMillis?: number;
  /** Longest `shutdown()` waits for queued and in-flight exports; what is still unsent then is counted as unsent. Default 5000 ms. */
  shutdownTimeoutMillis?: number;
  /** Receives the (rate-limited) warning about failed or dropped exports. Default: `console.warn`. */
  onWarning?: (message: string) => void;
  /** At most one warning per this many ms. Default 60000. */
  warningIntervalMillis?: number;
  /**
   * @deprecated Ignored: startTelemetry runs a `NodeSDK`, which always registers its providers,
   * context manager and propagator as the OpenTelemetry globals.
   */
  registerGlobal?: boolean;
  /** Enforce the sidecar's budgets before each instrumented call (also from `SPENDLINE_BUDGET_URL`). */
  budgets?: BudgetOptions;
  /** More OpenTelemetry instrumentations to run (e.g. `@opentelemetry/instrumentation-http`). */
  instrumentations?: Instrumentation[];
  /** Custom or negotiated prices: a list, or the path of an overrides file (see the pricing module). */
  priceOverrides?: PriceOverride[] | string;
  /** Environment to read instead of `process.env` (tests). */
  env?: Env;
}

export interface ResolvedEndpoints {
  logsUrl: string;
  tracesUrl: string;
}

/**
 * OTLP transport of one signal (`OTEL_EXPORTER_OTLP_PROTOCOL`): JSON or protobuf over HTTP, or gRPC.
 */
export type OtlpProtocol = 'http/json' | 'http/protobuf' | 'grpc';
export const OTLP_PROTOCOLS: readonly OtlpProtocol[] = ['http/json', 'http/protobuf', 'grpc'];
export interface ResolvedProtocols {
  logs: OtlpProtocol;
  traces: OtlpProtocol;
}
const DEFAULT_PROTOCOLS: ResolvedProtocols = { logs: 'http/json', traces: 'http/json' };

const DEFAULT_BASE = 'http://localhost:4318';
const DEFAULT_GRPC_ENDPOINT = 'http://localhost:4317';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const SIGNAL_SUFFIX = /\/v1\/(logs|traces)\/?$/;

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

/** A base URL; a value already ending in `/v1/logs` or `/v1/traces` means its base. */
export function baseUrlOf(value: string): string {
  return value.replace(SIGNAL_SUFFIX, '').replace(/\/+$/, '');
}

/** Parses the W3C-baggage-like `k=v,k2=v2` lists of OTEL_EXPORTER_OTLP_HEADERS / OTEL_RESOURCE_ATTRIBUTES. */
export function parseKeyValueList(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = safeDecode(part.slice(0, eq).trim());
    const value = safeDecode(part.slice(eq + 1).trim());
    if (key) out[key] = value;
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function isTrue(v: string | undefined): boolean {
  return v?.trim().toLowerCase() === 'true';
}

/** Resource attributes: options, then OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME (highest). */
export function resourceAttributesFor(env: Env, o: TelemetryOptions): Record<string, AttributeValue> {
  const attrs: Record<string, AttributeValue> = { ...o.resourceAttributes };
  if (o.serviceName) attrs[RESOURCE_ATTR.serviceName] = o.serviceName;
  if (o.serviceVersion) attrs[RESOURCE_ATTR.serviceVersion] = o.serviceVersion;
  if (o.environment) attrs[RESOURCE_ATTR.deploymentEnvironmentName] = o.environment;
  Object.assign(attrs, parseKeyValueList(env.OTEL_RESOURCE_ATTRIBUTES));
  const envName = nonEmpty(env.OTEL_SERVICE_NAME);
  if (envName) attrs[RESOURCE_ATTR.serviceName] = envName;
  if (attrs[RESOURCE_ATTR.serviceName] === undefined)
    attrs[RESOURCE_ATTR.serviceName] = 'unknown_service:node';
  return attrs;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A refused value as shown in a warning: short, and without URL credentials (`//user:pass@`). */
export function show(v: unknown): string {
  if (typeof v === 'string') {
    const t = v.replace(/\/\/[^/@\s]*@/g, '//***@');
    return JSON.stringify(t.length > 80 ? `${t.slice(0, 80)}…` : t);
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return typeof v;
}

/** A usable OTLP/HTTP URL, or the reason it is not one. */
export function checkUrl(value: string): { ok: true } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: 'not an absolute URL with a port in 1-65535' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: `a ${url.protocol} URL, not http: or https:` };
  if (url.port === '0') return { ok: false, reason: 'a URL with port 0' };
  return { ok: true };
}

/**
 * Each signal's protocol: `OTEL_EXPORTER_OTLP_{LOGS,TRACES}_PROTOCOL`, then
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, then `http/json` (which both spendline's receiver and the collector
 * accept). A value that is not one of `OTLP_PROTOCOLS` is named in `problems` and the next source is used.
 */
export function resolveProtocols(env: Env, problems: string[] = []): ResolvedProtocols {
  const read = (name: string): OtlpProtocol | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const value = raw.toLowerCase();
    if ((OTLP_PROTOCOLS as readonly string[]).includes(value)) return value as OtlpProtocol;
    problems.push(`${name} ${show(raw)} is not one of ${OTLP_PROTOCOLS.join(', ')}; ignored`);
    return undefined;
  };
  const general = read('OTEL_EXPORTER_OTLP_PROTOCOL');
  return {
    logs: read('OTEL_EXPORTER_OTLP_LOGS_PROTOCOL') ?? general ?? DEFAULT_PROTOCOLS.logs,
    traces: read('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? general ?? DEFAULT_PROTOCOLS.traces,
  };
}

/**
 * Endpoint precedence (design.md): per-signal `OTEL_EXPORTER_OTLP_{LOGS,TRACES}_ENDPOINT` (used as is),
 * then `OTEL_EXPORTER_OTLP_ENDPOINT`, then `OTLP_ENDPOINT`, then the `endpoint` option, then localhost:4318.
 * Over HTTP the base gets `/v1/logs` / `/v1/traces`; over gRPC a base is the endpoint as is, and the
 * default is localhost:4317 (the OTLP exporter specification). A source whose value is not a usable
 * http(s) URL is skipped and named in `problems`, so a typo in one falls back to the next source
 * instead of crashing the service.
 */
export function resolveEndpoints(
  env: Env,
  endpointOption?: unknown,
  problems: string[] = [],
  protocols: ResolvedProtocols = DEFAULT_PROTOCOLS,
): ResolvedEndpoints {
  const candidates: [string, unknown][] = [
    ['OTEL_EXPORTER_OTLP_ENDPOINT', env.OTEL_EXPORTER_OTLP_ENDPOINT],
    ['OTLP_ENDPOINT', env.OTLP_ENDPOINT],
    ['endpoint option', endpointOption],
  ];
  let base: string | undefined;
  for (const [name, raw] of candidates) {
    if (raw === undefined) continue;
    if (typeof raw !== 'string') {
      problems.push(`${name} ${show(raw)} is not a string; ignored`);
      continue;
    }
    if (!raw.trim()) continue;
    const candidate = baseUrlOf(raw.trim());
    const check = checkUrl(`${candidate}/v1/logs`);
    if (check.ok) {
      base = candidate;
      break;
    }
    problems.push(`${name} ${show(raw)} is ${check.reason}; ignored`);
  }
  const perSignal = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const check = checkUrl(raw);
    if (check.ok) return raw;
    problems.push(`${name} ${show(raw)} is ${check.reason}; ignored`);
    return undefined;
  };
  const fromBase = (protocol: OtlpProtocol, path: string): string =>
    protocol === 'grpc' ? (base ?? DEFAULT_GRPC_ENDPOINT) : `${base ?? DEFAULT_BASE}${path}`;
  return {
    logsUrl: perSignal('OTEL_EXPORTER_OTLP_LOGS_ENDPOINT') ?? fromBase(protocols.logs, '/v1/logs'),
    tracesUrl: perSignal('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? fromBase(protocols.traces, '/v1/traces'),
  };
}

/** Option headers, then `OTEL_EXPORTER_OTLP_HEADERS`, then the per-signal variable; invalid entries dropped. */
export function headersFor(
  env: Env,
  signal: 'LOGS' | 'TRACES',
  option: unknown,
  problems: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  // Problems are reported from the LOGS pass only, so each bad entry is named once.
  const report = (m: string): void => {
    if (signal === 'LOGS') problems.push(m);
  };
  const add = (source: string, entries: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(entries)) {
      if (typeof v !== 'string' || !HEADER_NAME.test(k) || !HEADER_VALUE.test(v))
        report(`${source} header ${show(k)} is not a valid HTTP header name and string value; ignored`);
      else out[k] = v;
    }
  };
  if (option !== undefined) {
    if (isRecord(option)) add('headers option', option);
    else report(`headers (a ${typeof option}) is not an object; ignored`);
  }
  add('OTEL_EXPORTER_OTLP_HEADERS', parseKeyValueList(env.OTEL_EXPORTER_OTLP_HEADERS));
  const perSignal = `OTEL_EXPORTER_OTLP_${signal}_HEADERS`;
  const entries = parseKeyValueList(env[perSignal]);
  for (const [k, v] of Object.entries(entries)) {
    if (!HEADER_NAME.test(k) || !HEADER_VALUE.test(v))
      problems.push(`${perSignal} header ${show(k)} is not a valid HTTP header; ignored`);
    else out[k] = v;
  }
  return out;
}

/**
 * TLS files for one signal's https endpoint: `OTEL_EXPORTER_OTLP_{LOGS,TRACES}_CERTIFICATE` else
 * `OTEL_EXPORTER_OTLP_CERTIFICATE` (PEM roots to trust), and likewise `…_CLIENT_CERTIFICATE` /
 * `…_CLIENT_KEY` (mTLS); paths relative to the working directory. A file that cannot be read is named
 * in `problems` and left out (the connection then fails as it would without it, and is counted).
 */
export function tlsFor(env: Env, signal: 'LOGS' | 'TRACES', problems: string[]): TlsFiles {
  const out: TlsFiles = {};
  const files: [what: string, into: keyof TlsFiles][] = [
    ['CERTIFICATE', 'ca'],
    ['CLIENT_CERTIFICATE', 'cert'],
    ['CLIENT_KEY', 'key'],
  ];
  for (const [what, into] of files) {
    const specific = `OTEL_EXPORTER_OTLP_${signal}_${what}`;
    const name = nonEmpty(env[specific]) ? specific : `OTEL_EXPORTER_OTLP_${what}`;
    const path = nonEmpty(env[name]);
    if (path === undefined) continue;
    try {
      out[into] = readFileSync(resolve(path));
    } catch (err) {
      // The general variable is read for both signals: name its problem once (LOGS pass).
      if (name === specific || signal === 'LOGS')
        problems.push(
          `${name} ${show(path)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); ignored`,
        );
    }
  }
  return out;
}
