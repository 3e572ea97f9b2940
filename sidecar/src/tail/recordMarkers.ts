/**
 * Counts the records in an OTLP/JSON line streamed in chunks (a line too long to decode), by the
 * field every record carries once: `"endTimeUnixNano"` per span; `"observedTimeUnixNano"` (else
 * `"timeUnixNano"`) per log record. The same rule as the decoder's estimate for lines it skips.
 * Quotes inside JSON strings are escaped, so text in attribute values never matches. Memory: the
 * longest marker, whatever the line's length.
 */
const MARKERS = {
  spans: Buffer.from('"endTimeUnixNano"'),
  observed: Buffer.from('"observedTimeUnixNano"'),
  time: Buffer.from('"timeUnixNano"'),
  resourceLogs: Buffer.from('"resourceLogs"'),
  resourceSpans: Buffer.from('"resourceSpans"'),
} as const;
type Marker = keyof typeof MARKERS;
const NAMES = Object.keys(MARKERS) as Marker[];
const OVERLAP = Math.max(...NAMES.map((n) => MARKERS[n].length)) - 1;

export class RecordMarkerCounter {
  private readonly counts: Record<Marker, number> = {
    spans: 0,
    observed: 0,
    time: 0,
    resourceLogs: 0,
    resourceSpans: 0,
  };
  /** Where each top-level key was first seen (the line's signal is the first one). */
  private firstLogs = -1;
  private firstSpans = -1;
  private carry: Buffer = Buffer.alloc(0);
  private seen = 0;

  /** Feeds the next chunk of the line (bytes in order; the newline excluded). */
  feed(chunk: Buffer): void {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const base = this.seen - this.carry.length;
    for (const name of NAMES) {
      const m = MARKERS[name];
      // A match must end inside the new chunk: matches wholly inside `carry` were counted before.
      let i = data.indexOf(m, Math.max(0, this.carry.length - m.length + 1));
      while (i !== -1) {
        this.counts[name]++;
        if (name === 'resourceLogs' && this.firstLogs < 0) this.firstLogs = base + i;
        if (name === 'resourceSpans' && this.firstSpans < 0) this.firstSpans = base + i;
        i = data.indexOf(m, i + m.length);
      }
    }
    this.seen += chunk.length;
    this.carry = Buffer.from(data.subarray(Math.max(0, data.length - OVERLAP)));
  }

  /** The line's signal and its record count (at least 1: a skipped line is never a loss of nothing). */
  result(): { signal: 'logs' | 'spans' | undefined; records: number } {
    const signal =
      this.firstLogs < 0 && this.firstSpans < 0
        ? undefined
        : this.firstSpans < 0 || (this.firstLogs >= 0 && this.firstLogs < this.firstSpans)
          ? 'logs'
          : 'spans';
    const n =
      signal === 'spans'
        ? this.counts.spans
        : signal === 'logs'
          ? this.counts.observed || this.counts.time
          : 0;
    return { signal, records: Math.max(1, n) };
  }
}
