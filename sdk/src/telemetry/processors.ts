import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, ReadableLogRecord, SdkLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { BoundedBatchQueue } from './boundedBatchQueue.js';
import type { DirectRecords } from './directRecords.js';
import type { DirectSpans } from './directSpans.js';

/** Log processor that hands each emitted record to a bounded queue (and shows `direct` the records' shape). */
export class QueuedLogRecordProcessor implements LogRecordProcessor {
  constructor(
    private readonly queue: BoundedBatchQueue<ReadableLogRecord>,
    private readonly direct?: DirectRecords,
  ) {}
  onEmit(logRecord: SdkLogRecord, _context?: Context): void {
    this.direct?.learn(logRecord);
    this.queue.add(logRecord);
  }
  forceFlush(): Promise<void> {
    return this.queue.flush();
  }
  shutdown(): Promise<void> {
    return this.queue.shutdown();
  }
}

/** Span processor that hands each ended, sampled span to a bounded queue (and shows `direct` the spans' shape). */
export class QueuedSpanProcessor implements SpanProcessor {
  constructor(
    private readonly queue: BoundedBatchQueue<ReadableSpan>,
    private readonly direct?: DirectSpans,
  ) {}
  onStart(_span: Span, _parentContext: Context): void {}
  onEnd(span: ReadableSpan): void {
    this.direct?.learn(span);
    if ((span.spanContext().traceFlags & 1) === 1) this.queue.add(span);
  }
  forceFlush(): Promise<void> {
    return this.queue.flush();
  }
  shutdown(): Promise<void> {
    return this.queue.shutdown();
  }
}
