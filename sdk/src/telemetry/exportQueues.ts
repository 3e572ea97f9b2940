import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  BoundedBatchQueue,
  type ItemExporter,
  type QueueLimits,
  type QueueListener,
} from './boundedBatchQueue.js';
import type { ClosableAgents, TlsFiles } from './closableAgents.js';
import type { OtlpProtocol } from './options.js';
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

/**
 * An exporter whose module is loaded on first use: the protobuf and gRPC exporters (and gRPC's
 * client) cost memory and start-up time that a service exporting OTLP/HTTP JSON should not pay.
 * Until the module has loaded, exports wait for it; if it cannot load, they fail (and are counted).
 */
class LazyExporter<T> implements ItemExporter<T> {
  readonly #exporter: Promise<ItemExporter<T>>;
  constructor(load: () => Promise<ItemExporter<T>>) {
    this.#exporter = load();
    this.#exporter.catch(() => undefined);
  }
  export(items: T[], resultCallback: (result: ExportResult) => void): void {
    this.#exporter.then(
      (e) => e.export(items, resultCallback),
      (error: unknown) =>
        resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : undefined }),
    );
  }
  async shutdown(): Promise<void> {
    const e = await this.#exporter.catch(() => undefined);
    await e?.shutdown();
  }
}

/**
 * Exports once the items' resources have settled their asynchronous attributes (the host detector's
 * `host.id`), as OpenTelemetry's batch processors wait: the OTLP exporters skip an unsettled one.
 */
class SettledResourceExporter<T extends { resource: Resource }> implements ItemExporter<T> {
  constructor(private readonly exporter: ItemExporter<T>) {}
  export(items: T[], resultCallback: (result: ExportResult) => void): void {
    const pending: Promise<void>[] = [];
    let last: Resource | undefined;
    for (const { resource } of items) {
      if (resource === last) continue;
      last = resource;
      if (resource.asyncAttributesPending && resource.waitForAsyncAttributes)
        pending.push(resource.waitForAsyncAttributes());
    }
    if (pending.length === 0) {
      this.exporter.export(items, resultCallback);
      return;
    }
    Promise.all(pending).then(
      () => this.exporter.export(items, resultCallback),
      (error: unknown) =>
        resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : undefined }),
    );
  }
  shutdown(): Promise<void> {
    return this.exporter.shutdown();
  }
}

interface HttpSettings {
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number;
  httpAgentOptions?: ClosableAgents['factory'] | undefined;
}

interface ExporterSettings extends HttpSettings {
  /** For gRPC over TLS (https URL): the same files the HTTP agents get. */
  tls?: TlsFiles | undefined;
}

/**
 * gRPC call settings: metadata from the resolved headers (OTEL_EXPORTER_OTLP_HEADERS and the
 * `headers` option), and TLS credentials from the resolved files for an https endpoint (plain
 * HTTP/2 for http).
 */
async function grpcSettings(o: ExporterSettings) {
  const { credentials, Metadata } = await import('@grpc/grpc-js');
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(o.headers)) metadata.set(k.toLowerCase(), v);
  const tls = o.tls ?? {};
  return {
    url: o.url,
    metadata,
    timeoutMillis: o.timeoutMillis,
    credentials: o.url.startsWith('https:')
      ? credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
      : credentials.createInsecure(),
  };
}

/** One signal's exporter per protocol (protobuf and gRPC loaded on first use). */
interface SignalExporters<T> {
  json(c: HttpSettings): ItemExporter<T>;
  proto(c: HttpSettings): Promise<ItemExporter<T>>;
  grpc(c: Awaited<ReturnType<typeof grpcSettings>>): Promise<ItemExporter<T>>;
}

const LOG_EXPORTERS: SignalExporters<ReadableLogRecord> = {
  json: (c) => new OTLPLogExporter(c),
  proto: async (c) => new (await import('@opentelemetry/exporter-logs-otlp-proto')).OTLPLogExporter(c),
  grpc: async (c) => new (await import('@opentelemetry/exporter-logs-otlp-grpc')).OTLPLogExporter(c),
};

const SPAN_EXPORTERS: SignalExporters<ReadableSpan> = {
  json: (c) => new OTLPTraceExporter(c),
  proto: async (c) => new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter(c),
  grpc: async (c) => new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter(c),
};

function exporterFor<T>(protocol: OtlpProtocol, o: ExporterSettings, e: SignalExporters<T>): ItemExporter<T> {
  const http: HttpSettings = {
    url: o.url,
    headers: o.headers,
    timeoutMillis: o.timeoutMillis,
    httpAgentOptions: o.httpAgentOptions,
  };
  if (protocol === 'http/json') return e.json(http);
  if (protocol === 'http/protobuf') return new LazyExporter(() => e.proto(http));
  return new LazyExporter(async () => e.grpc(await grpcSettings(o)));
}

function exportQueue<T extends { resource: Resource }>(
  exporters: SignalExporters<T>,
  signal: 'logs' | 'spans',
  url: string,
  headers: Record<string, string>,
  limits: QueueLimits,
  stats: StatsKeeper,
  httpAgentOptions: ClosableAgents['factory'] | undefined,
  protocol: OtlpProtocol,
  tls: TlsFiles | undefined,
): BoundedBatchQueue<T> {
  const settings = { url, headers, timeoutMillis: limits.exportTimeoutMillis, httpAgentOptions, tls };
  return new BoundedBatchQueue<T>(
    new SettledResourceExporter(exporterFor(protocol, settings, exporters)),
    limits,
    countingListener(stats, signal),
  );
}

/** A bounded OTLP log queue (HTTP JSON, HTTP protobuf or gRPC) whose exports, failures and drops are counted in `stats`. */
export function logExportQueue(
  url: string,
  headers: Record<string, string>,
  limits: QueueLimits,
  stats: StatsKeeper,
  httpAgentOptions?: ClosableAgents['factory'],
  protocol: OtlpProtocol = 'http/json',
  tls?: TlsFiles,
): BoundedBatchQueue<ReadableLogRecord> {
  return exportQueue(LOG_EXPORTERS, 'logs', url, headers, limits, stats, httpAgentOptions, protocol, tls);
}

/** A bounded OTLP span queue (HTTP JSON, HTTP protobuf or gRPC) whose exports, failures and drops are counted in `stats`. */
export function spanExportQueue(
  url: string,
  headers: Record<string, string>,
  limits: QueueLimits,
  stats: StatsKeeper,
  httpAgentOptions?: ClosableAgents['factory'],
  protocol: OtlpProtocol = 'http/json',
  tls?: TlsFiles,
): BoundedBatchQueue<ReadableSpan> {
  return exportQueue(SPAN_EXPORTERS, 'spans', url, headers, limits, stats, httpAgentOptions, protocol, tls);
}
