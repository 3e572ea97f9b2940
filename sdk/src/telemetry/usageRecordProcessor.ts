import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, SdkLogRecord } from '@opentelemetry/sdk-logs';
import { USAGE_EVENT_NAME } from '../contract.js';
import type { BoundedBatchQueue } from './boundedBatchQueue.js';
import { type ExportOptions, logExportQueue } from './exportQueues.js';
import { type Env, resolveEndpoints } from './options.js';
import { StatsKeeper, type TelemetryStats } from './stats.js';

/** Options of {@link UsageRecordProcessor}; environment variables win as in `startTelemetry`. */
export interface UsageRecordProcessorOptions extends ExportOptions {
  /** OTLP/HTTP base URL of spendline's collector or sidecar (like `OTLP_ENDPOINT`). */
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
  readonly #queue: BoundedBatchQueue<SdkLogRecord>;
  readonly #stats: StatsKeeper;

  constructor(options: UsageRecordProcessorOptions = {}) {
    const env = options.env ?? process.env;
    this.#stats = new StatsKeeper(
      options.onWarning ?? ((m) => console.warn(m)),
      options.warningIntervalMillis ?? 60_000,
    );
    this.#queue = logExportQueue(env, resolveEndpoints(env, options.endpoint), options, this.#stats);
  }

  onEmit(logRecord: SdkLogRecord, _context?: Context): void {
    if (logRecord.eventName === USAGE_EVENT_NAME) this.#queue.add(logRecord);
  }
  forceFlush(): Promise<void> {
    return this.#queue.flush();
  }
  shutdown(): Promise<void> {
    return this.#queue.shutdown();
  }
  /** Export counters (logs exported, failed, dropped). */
  stats(): TelemetryStats {
    return this.#stats.snapshot();
  }
}
