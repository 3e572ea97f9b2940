/** Counters the SDK keeps about itself; read them with `handle.stats()`. */
export interface TelemetryStats {
  /** Usage records emitted (one span plus one log record each). */
  recordsEmitted: number;
  /** Of those, records whose token counts were estimated with a tokenizer. */
  recordsEstimated: number;
  /** Manual or instrumented inputs refused by validation, by reason. */
  rejected: Record<string, number>;
  /** Log records / spans accepted by the collector. */
  logsExported: number;
  spansExported: number;
  /** Log records / spans lost because an export failed (collector down, 5xx, timeout). */
  logsFailed: number;
  spansFailed: number;
  /** Log records / spans dropped because the bounded queue was full. */
  logsDropped: number;
  spansDropped: number;
  /** Log records / spans still queued or in flight when `shutdown()` reached its deadline (records: also those still being finished, e.g. a tokenizer estimate). */
  logsUnsent: number;
  spansUnsent: number;
  /** Failed OTLP requests (batches). */
  exportFailures: number;
  /** Warnings actually printed (rate-limited). */
  warnings: number;
  /** Internal errors swallowed so that the host never sees them. */
  internalErrors: number;
  /** Budget check requests sent to the sidecar, and those that got no usable answer. */
  budgetChecks: number;
  budgetChecksFailed: number;
  /** Calls refused by a budget (enforce=block, or fail-closed), and over-budget calls let through (enforce=warn). */
  budgetRefusals: number;
  budgetWarnings: number;
}

export function emptyStats(): TelemetryStats {
  return {
    recordsEmitted: 0,
    recordsEstimated: 0,
    rejected: {},
    logsExported: 0,
    spansExported: 0,
    logsFailed: 0,
    spansFailed: 0,
    logsDropped: 0,
    spansDropped: 0,
    logsUnsent: 0,
    spansUnsent: 0,
    exportFailures: 0,
    warnings: 0,
    internalErrors: 0,
    budgetChecks: 0,
    budgetChecksFailed: 0,
    budgetRefusals: 0,
    budgetWarnings: 0,
  };
}

/** Mutable stats plus the one rate-limited warning about lost telemetry. */
export class StatsKeeper {
  readonly s: TelemetryStats = emptyStats();
  #lastWarningAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly warn: (message: string) => void,
    private readonly intervalMs: number,
  ) {}

  reject(reason: string): void {
    this.s.rejected[reason] = (this.s.rejected[reason] ?? 0) + 1;
  }

  /** Called on every loss; prints at most one warning per interval, with totals so far. */
  lost(): void {
    const now = Date.now();
    if (now - this.#lastWarningAt < this.intervalMs) return;
    this.#lastWarningAt = now;
    this.s.warnings++;
    const s = this.s;
    try {
      this.warn(
        `@spendline/sdk: telemetry export is failing; usage records are being lost ` +
          `(failed exports: ${s.exportFailures}, logs failed/dropped/unsent: ${s.logsFailed}/${s.logsDropped}/${s.logsUnsent}, ` +
          `spans failed/dropped/unsent: ${s.spansFailed}/${s.spansDropped}/${s.spansUnsent}). Further warnings suppressed for ${Math.round(this.intervalMs / 1000)}s.`,
      );
    } catch {
      this.s.internalErrors++;
    }
  }

  snapshot(): TelemetryStats {
    return { ...this.s, rejected: { ...this.s.rejected } };
  }
}
