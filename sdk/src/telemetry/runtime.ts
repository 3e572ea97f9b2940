import type { Tracer } from '@opentelemetry/api';
import type { Logger } from '@opentelemetry/api-logs';
import type { BudgetGuard } from '../budget/budgetGuard.js';
import type { UsagePricer } from '../record/price.js';
import type { DirectRecords } from './directRecords.js';
import type { DirectSpans } from './directSpans.js';
import type { StatsKeeper } from './stats.js';

/** What the record path needs from a started telemetry instance. */
export interface TelemetryRuntime {
  readonly tracer: Tracer;
  readonly logger: Logger;
  readonly stats: StatsKeeper;
  readonly captureContent: boolean;
  readonly price: UsagePricer;
  /** Budget enforcement before each instrumented call, when configured. */
  readonly budget?: BudgetGuard | undefined;
  /** Work that finishes a record later (tokenizer estimates); `forceFlush` waits for it. */
  readonly pending: Set<Promise<unknown>>;
  /**
   * Whether calls mark another instrumentation's spans of them (the sidecar then counts the SDK's record,
   * not those spans): only while the records go to spendline, or a marked call would be counted nowhere.
   */
  marksPeerSpans: boolean;
  /**
   * Set while records may skip the logger into spendline's own export queue (directRecords.ts); unset,
   * every record goes through `logger`.
   */
  directRecords?: DirectRecords | undefined;
  /**
   * Set while calls' spans may skip the tracer into spendline's own span export queue (directSpans.ts);
   * unset, every span is started with `tracer`.
   */
  directSpans?: DirectSpans | undefined;
}

let active: TelemetryRuntime | undefined;

/** The runtime of the most recent running `startTelemetry()`, if any. Instrumented clients look it up per call. */
export function activeRuntime(): TelemetryRuntime | undefined {
  return active;
}

export function setActiveRuntime(rt: TelemetryRuntime | undefined): void {
  active = rt;
}

/** Tracks a background promise so `forceFlush` can wait for it; never rejects into the host. */
export function trackPending(rt: TelemetryRuntime, work: Promise<unknown>): void {
  const p = work.catch(() => {
    rt.stats.s.internalErrors++;
  });
  rt.pending.add(p);
  void p.finally(() => rt.pending.delete(p));
}
