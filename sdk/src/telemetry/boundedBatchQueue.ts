import type { ExportResult } from '@opentelemetry/core';

/** The part of an OpenTelemetry exporter the queue uses (span and log exporters both fit). */
export interface ItemExporter<T> {
  export(items: T[], resultCallback: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

export interface QueueLimits {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  /** How long `shutdown()` waits when not given a deadline. */
  shutdownTimeoutMillis: number;
}

export interface QueueListener {
  exported(count: number): void;
  failed(count: number): void;
  dropped(count: number): void;
  /** Items still queued or in flight when a shutdown deadline passed. */
  unsent(count: number): void;
}

/**
 * A bounded batching queue in front of an exporter: at most `maxQueueSize` items wait, at most one
 * export is in flight, and every item ends up counted as exported, failed or dropped. `add` never
 * blocks, awaits or throws, so a slow or dead collector cannot slow the host.
 */
export class BoundedBatchQueue<T> {
  #queue: T[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #inFlightBatch: T[] = [];
  #closed = false;
  /** Set when a shutdown deadline passed: late export results are no longer counted. */
  #abandoned = false;
  #shutdown: Promise<void> | undefined;
  /** Validated by startTelemetry; a batch below one item would spin without sending anything. */
  readonly #batchSize: number;

  constructor(
    private readonly exporter: ItemExporter<T>,
    private readonly limits: QueueLimits,
    private readonly listener: QueueListener,
  ) {
    this.#batchSize = limits.maxExportBatchSize >= 1 ? Math.floor(limits.maxExportBatchSize) : 1;
  }

  add(item: T): void {
    if (this.#closed || this.#abandoned) return;
    if (this.#queue.length >= this.limits.maxQueueSize) {
      this.listener.dropped(1);
      return;
    }
    this.#queue.push(item);
    if (this.#queue.length >= this.#batchSize) this.#kick();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#kick();
      }, this.limits.scheduledDelayMillis);
      this.#timer.unref();
    }
  }

  /** Exports everything queued now, waiting for in-flight exports too. */
  async flush(): Promise<void> {
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (this.#inFlight) await this.#inFlight;
      else if (this.#queue.length > 0) this.#exportOne();
      else return;
    }
  }

  /**
   * Flushes, then shuts the exporter down, giving up at `deadline` (epoch ms): items still queued
   * or in flight then are counted as unsent, and a late result of an in-flight export is ignored.
   */
  shutdown(deadline = Date.now() + this.limits.shutdownTimeoutMillis): Promise<void> {
    this.#shutdown ??= this.#shutdownBy(deadline);
    return this.#shutdown;
  }

  async #shutdownBy(deadline: number): Promise<void> {
    const flushed = await beforeDeadline(this.flush(), deadline);
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!flushed) {
      this.#abandoned = true;
      const unsent = this.#queue.length + this.#inFlightBatch.length;
      this.#queue = [];
      this.#inFlightBatch = [];
      if (unsent > 0) this.listener.unsent(unsent);
    }
    await beforeDeadline(
      this.exporter.shutdown().catch(() => {}),
      deadline,
    );
  }

  #kick(): void {
    if (!this.#inFlight && this.#queue.length > 0) this.#exportOne();
  }

  #exportOne(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#queue.splice(0, this.#batchSize);
    this.#inFlightBatch = batch;
    this.#inFlight = this.#send(batch).then(() => {
      this.#inFlight = undefined;
      this.#inFlightBatch = [];
      if (this.#abandoned) return;
      if (this.#queue.length >= this.#batchSize) this.#kick();
      else if (this.#queue.length > 0 && !this.#timer && !this.#closed) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#kick();
        }, this.limits.scheduledDelayMillis);
        this.#timer.unref();
      }
    });
  }

  #send(batch: T[]): Promise<void> {
    return new Promise<void>((resolve) => {
      let settled = false;
      const settle = (ok: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        if (this.#abandoned) {
          resolve();
          return;
        }
        if (ok) this.listener.exported(batch.length);
        else this.listener.failed(batch.length);
        resolve();
      };
      // The exporter has its own timeout; this guard only protects the queue from an exporter that never calls back.
      const guard = setTimeout(() => settle(false), this.limits.exportTimeoutMillis + 1000);
      guard.unref();
      try {
        this.exporter.export(batch, (result) => settle(result.code === 0));
      } catch {
        settle(false);
      }
    });
  }
}

/** Resolves true when `work` settles before `deadline` (epoch ms), false when the deadline comes first. */
export function beforeDeadline(work: Promise<unknown>, deadline: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(true);
      },
    );
  });
}
