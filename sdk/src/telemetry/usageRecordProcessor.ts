import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadableLogRecord, SdkLogRecord } from '@opentelemetry/sdk-logs';
import { USAGE_EVENT_NAME } from '../contract.js';
import type { BoundedBatchQueue } from './boundedBatchQueue.js';
import { closableAgents } from './closableAgents.js';
import { type ExportOptions, logExportQueue } from './exportQueues.js';
import type { Env } from './options.js';
import { resolveConfig } from './resolveConfig.js';
import { StatsKeeper, type TelemetryStats } from './stats.js';

/** Options of {@link UsageRecordProcessor}; environment variables win as in `startTelemetry`. */
export interface UsageRecordProcessorOptions extends ExportOptions {
  /** OTLP base URL of spendline's collector or sidecar (like `OTLP_ENDPOINT`; the protocol from `OTEL_EXPORTER_OTLP_PROTOCOL`). */
  endpoint?: string;
  /** Receives the (rate-limited) warning about failed or dropped exports. Default: `console.warn`. */
  onWarning?: (message: string) => void;
  warningIntervalMillis?: number;
  /** Environment to read instead of `process.env` (tests). */
  env?: Env;
}

/**
 * A log record processor for a service's own `NodeSDK` (`logRecordProcessors: [...]`): sends the
 * usage records — and only them, the service's other logs stay where they go — to spendline's
 * OTLP endpoint over a bounded queue (never blocks, drops and counts when full).
 */
export class UsageRecordProcessor implements LogRecordProcessor {
  readonly #queue: BoundedBatchQueue<ReadableLogRecord>;
  readonly #stats: StatsKeeper;
  readonly #shutdownTimeoutMillis: number;
  readonly #agents = closableAgents();
  /** Options and variables that were refused (each named, with what is used instead); also warned once. */
  readonly configProblems: readonly string[];

  /** Never throws: invalid options are warned about once and replaced by their defaults, as in startTelemetry. */
  constructor(options: UsageRecordProcessorOptions = {}) {
    const config = resolveConfig(options, process.env);
    this.configProblems = config.problems;
    if (config.problems.length > 0) {
      try {
        config.onWarning(
          `@spendline/sdk: invalid configuration, falling back: ${config.problems.join('; ')}.`,
        );
      } catch {
        // A throwing warning sink must not break the host's NodeSDK setup.
      }
    }
    this.#stats = new StatsKeeper(config.onWarning, config.warningIntervalMillis);
    this.#shutdownTimeoutMillis = config.limits.shutdownTimeoutMillis;
    this.#queue = logExportQueue(
      config.endpoints.logsUrl,
      config.logsHeaders,
      config.logsLimits,
      this.#stats,
      this.#agents.factoryFor(config.logsTls),
      config.protocols.logs,
      config.logsTls,
    );
  }

  onEmit(logRecord: SdkLogRecord, _context?: Context): void {
    if (logRecord.eventName === USAGE_EVENT_NAME) this.#queue.add(logRecord);
  }
  forceFlush(): Promise<void> {
    return this.#queue.flush();
  }
  /** Resolves within `shutdownTimeoutMillis` (default 5 s); what is left unsent is counted in `stats()`. */
  async shutdown(): Promise<void> {
    await this.#queue.shutdown(Date.now() + this.#shutdownTimeoutMillis);
    if (this.#stats.s.logsUnsent > 0) this.#stats.lost();
    this.#agents.closeAll();
  }
  /** Export counters (logs exported, failed, dropped). */
  stats(): TelemetryStats {
    return this.#stats.snapshot();
  }
}
