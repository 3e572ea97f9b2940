import { isAscii } from 'node:buffer';
import type { FileHandle } from 'node:fs/promises';
import { RecordMarkerCounter } from './recordMarkers.js';
import { OtlpLineSplitter } from './splitOtlpLine.js';

/** Lines cut out of one oversized OTLP line may hold at most this many times --max-line-bytes. */
const SPLIT_OUTPUT_FACTOR = 4;

/**
 * One line over the maximum as it streams past: its records counted (markers) and, for OTLP files,
 * cut out into small lines of their own (OtlpLineSplitter).
 */
class OversizedLineReader {
  private readonly counter = new RecordMarkerCounter();
  private readonly splitter: OtlpLineSplitter | undefined;
  constructor(split: boolean, maxLineBytes: number) {
    this.splitter = split
      ? new OtlpLineSplitter(maxLineBytes, SPLIT_OUTPUT_FACTOR * maxLineBytes)
      : undefined;
  }
  feed(chunk: Buffer): void {
    this.counter.feed(chunk);
    this.splitter?.feed(chunk);
  }
  /** The lines cut out, and the records not among them (the loss, at least 1 when nothing was cut out). */
  finish(): { lines: string[]; signal: 'logs' | 'spans' | undefined; records: number } {
    const counted = this.counter.result();
    const s = this.splitter;
    if (s === undefined) return { lines: [], ...counted };
    s.finish();
    if (s.emitted === 0) return { lines: [], ...counted };
    return { lines: s.lines, signal: counted.signal, records: Math.max(0, counted.records - s.emitted) };
  }
}

/** Bytes read per positional read: big reads keep ingest close to bare JSON.parse speed. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** Smallest read issued even when the byte budget left is tiny. */
const MIN_READ_BYTES = 64 * 1024;

export interface CompleteLines {
  /** Complete lines (newline and a trailing `\r` removed), each with the offset just past its newline. */
  lines: { text: string; endOffset: number }[];
  /**
   * Lines over the maximum: skipped to their newline without being buffered whole, with the OTLP
   * records they hold counted as they stream past (see RecordMarkerCounter).
   */
  oversized: { offset: number; bytes: number; signal: 'logs' | 'spans' | undefined; records: number }[];
  /** Offset just past the last consumed newline (never inside a partial last line). */
  offset: number;
  /**
   * When reading stopped at an unfinished last line: the file size it was read to without finding a
   * newline (the line is [offset, unfinishedTo)); -1 otherwise.
   */
  unfinishedTo: number;
}

/**
 * A reusable read buffer: grows only up to max(READ_CHUNK_BYTES, maxLineBytes + 1), so memory per tailer is
 * bounded whatever the line lengths.
 */
export class ReadBuffer {
  private buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  /**
   * Bytes the next read should cover to hold a whole line: the last line's length and an eighth (lines
   * longer than a read chunk would otherwise take two reads each).
   */
  lineHint = 0;
  get capacity(): number {
    return this.buf.length;
  }
  get(len: number): Buffer {
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(len);
    return this.buf;
  }
  /** The buffer with room for `len` bytes, its first `keep` bytes preserved. */
  grow(len: number, keep: number): Buffer {
    if (this.buf.length < len) {
      const bigger = Buffer.allocUnsafe(len);
      this.buf.copy(bigger, 0, 0, keep);
      this.buf = bigger;
    }
    return this.buf;
  }
}

/**
 * Reads complete lines in [from, size), consuming about `budget` bytes at most but always at least one line
 * when one is complete. A partial last line stays unread. A line over `maxLineBytes` is skipped once its
 * newline exists (until then reading stops before it). Each byte is read once: a line's start stays in
 * the buffer while the rest of it is read.
 */
export async function readCompleteLines(
  handle: FileHandle,
  from: number,
  size: number,
  budget: number,
  maxLineBytes: number,
  scratch: ReadBuffer,
  /** Cut the records of OTLP lines over the maximum into lines of their own (OTLP files). */
  splitOversized = false,
): Promise<CompleteLines> {
  const lines: CompleteLines['lines'] = [];
  const oversized: CompleteLines['oversized'] = [];
  const maxBuffer = Math.max(READ_CHUNK_BYTES, maxLineBytes + 1);
  const run = new LineRun();
  /** File offset of the buffer's first byte: just past the last consumed newline. */
  let pos = from;
  /** Bytes at the buffer's start already read: the start of a line whose newline is not read yet. */
  let filled = 0;
  let consumed = 0;
  let unfinishedTo = -1;
  // Enough for the budget and the line crossing its end (sized by the last line): usually one read.
  const hint = scratch.lineHint;
  let want = Math.min(maxBuffer, hint >= budget ? Math.max(readSize(budget), hint) : readSize(budget) + hint);
  while (pos < size && (consumed < budget || consumed === 0)) {
    const len = Math.min(want, size - pos);
    const buf = scratch.grow(len, filled);
    const { bytesRead } = await handle.read(buf, filled, len - filled, pos + filled);
    if (bytesRead === 0) break; // truncated under us: the next poll sees the new size
    const avail = filled + bytesRead;
    const data = buf.subarray(0, avail); // never scan stale bytes of a grown buffer
    let start = 0;
    let nl = data.indexOf(10, filled); // the first `filled` bytes hold no newline
    while (nl !== -1) {
      const lineLen = nl - start;
      if (lineLen > maxLineBytes) {
        run.flush(data, pos, lines);
        const reader = new OversizedLineReader(splitOversized, maxLineBytes);
        reader.feed(data.subarray(start, nl));
        addOversized(reader.finish(), pos + start, lineLen, pos + nl + 1, lines, oversized);
      } else {
        run.add(start, nl);
        scratch.lineHint = lineLen + (lineLen >> 3) + 1;
      }
      consumed += lineLen + 1;
      start = nl + 1;
      if (consumed >= budget) break;
      nl = data.indexOf(10, start);
    }
    run.flush(data, pos, lines);
    if (start > 0) {
      pos += start;
      if (consumed >= budget) break;
      // Keep the next line's start (already read) at the buffer's front.
      filled = avail - start;
      data.copy(buf, 0, start, avail);
      want = Math.min(filled + Math.max(readSize(budget - consumed), scratch.lineHint), maxBuffer);
      continue;
    }
    // No newline in [pos, pos + avail).
    if (avail < len || pos + avail >= size) {
      if (pos + avail >= size) unfinishedTo = size;
      break; // only a partial line is left
    }
    if (avail <= maxLineBytes) {
      filled = avail;
      want = Math.min(Math.max(want * 2, READ_CHUNK_BYTES), maxBuffer);
      continue;
    }
    const reader = new OversizedLineReader(splitOversized, maxLineBytes);
    reader.feed(data);
    const newline = await findNewline(handle, pos + avail, size, scratch, reader);
    if (newline === -1) {
      unfinishedTo = size;
      break; // oversized and still incomplete: skip it once it is complete
    }
    addOversized(reader.finish(), pos, newline - pos, newline + 1, lines, oversized);
    consumed += newline - pos + 1;
    pos = newline + 1;
    filled = 0;
    want = readSize(budget - consumed);
  }
  return { lines, oversized, offset: pos, unfinishedTo };
}

/**
 * Consecutive lines of one read, decoded with one `toString` and cut apart at their newlines: a
 * string per line costs more (reading and decoding 400 MB of 134 KB lines took 1.8 s line by line
 * against 1.45 s a read at a time; a line over 128 KiB is a large object of its own in V8's heap). A
 * line is then a slice of the run's string, which it keeps alive while it is kept: the decoders copy
 * what they keep. A newline byte is never part of a multi-byte sequence, and the UTF-8 decoder never
 * swallows one into a replacement character, so the run's string has a newline exactly where its
 * bytes do; were it ever otherwise, the lines are decoded one by one as before.
 */
class LineRun {
  /** Where the run's first line starts in the read's buffer (-1: the run is empty). */
  private first = -1;
  /** The byte index of each line's newline in the read's buffer. */
  private readonly ends: number[] = [];

  /** The line [start, nl) of the read's buffer, nl its newline. */
  add(start: number, nl: number): void {
    if (this.first === -1) this.first = start;
    this.ends.push(nl);
  }

  /**
   * Appends the run's lines of `data` (the read's buffer, `base` the file offset of its first byte),
   * without a trailing `\r`, each with the offset just past its newline; the run is then empty.
   */
  flush(data: Buffer, base: number, lines: CompleteLines['lines']): void {
    const ends = this.ends;
    if (ends.length === 0) return;
    const first = this.first;
    const last = ends.length - 1;
    const to = ends[last] as number;
    // ASCII (most telemetry) is its own Latin-1: a copy, where Node 20's UTF-8 decoder runs at about
    // 250 MB/s (the ingest benchmark's lines: 1.3 s per 320 MB, against 0.05 s for the check and copy).
    const text = isAscii(data.subarray(first, to))
      ? data.toString('latin1', first, to)
      : data.toString('utf8', first, to);
    let at = 0;
    let i = 0;
    for (; i <= last; i++) {
      const found = text.indexOf('\n', at);
      if (i === last ? found !== -1 : found === -1) break;
      const nl = i === last ? text.length : found;
      const end = nl > at && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      lines.push({ text: text.slice(at, end), endOffset: base + (ends[i] as number) + 1 });
      at = nl + 1;
    }
    if (i <= last) {
      // Never seen; decoded line by line rather than trusting the cut.
      lines.length -= i;
      let start = first;
      for (const nl of ends) {
        const end = nl > start && data[nl - 1] === 13 ? nl - 1 : nl;
        lines.push({ text: data.toString('utf8', start, end), endOffset: base + nl + 1 });
        start = nl + 1;
      }
    }
    ends.length = 0;
    this.first = -1;
  }
}

function readSize(budgetLeft: number): number {
  return Math.min(READ_CHUNK_BYTES, Math.max(MIN_READ_BYTES, budgetLeft));
}

/** The offset of the first newline in [from, size), or -1; each chunk read is fed to `counter`. */
export async function findNewline(
  handle: FileHandle,
  from: number,
  size: number,
  scratch: ReadBuffer,
  counter?: OversizedLineReader,
): Promise<number> {
  const buf = scratch.get(READ_CHUNK_BYTES);
  for (let pos = from; pos < size; ) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(READ_CHUNK_BYTES, size - pos), pos);
    if (bytesRead === 0) return -1;
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    counter?.feed(buf.subarray(0, nl === -1 ? bytesRead : nl));
    if (nl !== -1) return pos + nl;
    pos += bytesRead;
  }
  return -1;
}

/** The lines cut out of an oversized line (all ending at its end) and what could not be. */
function addOversized(
  got: ReturnType<OversizedLineReader['finish']>,
  offset: number,
  bytes: number,
  endOffset: number,
  lines: CompleteLines['lines'],
  oversized: CompleteLines['oversized'],
): void {
  for (const text of got.lines) lines.push({ text, endOffset });
  if (got.records > 0) oversized.push({ offset, bytes, signal: got.signal, records: got.records });
}
