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
}

export interface QueueListener {
  exported(count: number): void;
  failed(count: number): void;
  dropped(count: number): void;
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
  #closed = false;

  constructor(
    private readonly exporter: ItemExporter<T>,
    private readonly limits: QueueLimits,
    private readonly listener: QueueListener,
  ) {}

  add(item: T): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.limits.maxQueueSize) {
      this.listener.dropped(1);
      return;
    }
    this.#queue.push(item);
    if (this.#queue.length >= this.limits.maxExportBatchSize) this.#kick();
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

  async shutdown(): Promise<void> {
    await this.flush();
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.exporter.shutdown();
  }

  #kick(): void {
    if (!this.#inFlight && this.#queue.length > 0) this.#exportOne();
  }

  #exportOne(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#queue.splice(0, this.limits.maxExportBatchSize);
    this.#inFlight = this.#send(batch).then(() => {
      this.#inFlight = undefined;
      if (this.#queue.length >= this.limits.maxExportBatchSize) this.#kick();
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
