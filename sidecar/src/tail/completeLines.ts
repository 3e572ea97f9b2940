import type { FileHandle } from 'node:fs/promises';

/** Bytes read per positional read: big reads keep ingest close to bare JSON.parse speed. */
export const READ_CHUNK_BYTES = 1024 * 1024;
/** Smallest read issued even when the byte budget left is tiny. */
const MIN_READ_BYTES = 64 * 1024;

export interface CompleteLines {
  /** Complete lines (newline and a trailing `\r` removed), each with the offset just past its newline. */
  lines: { text: string; endOffset: number }[];
  /** Lines over the maximum: skipped to their newline without being buffered whole. */
  oversized: { offset: number; bytes: number }[];
  /** Offset just past the last consumed newline (never inside a partial last line). */
  offset: number;
}

/**
 * A reusable read buffer: grows only up to max(READ_CHUNK_BYTES, maxLineBytes + 1), so memory per tailer is
 * bounded whatever the line lengths.
 */
export class ReadBuffer {
  private buf = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  get capacity(): number {
    return this.buf.length;
  }
  get(len: number): Buffer {
    if (this.buf.length < len) this.buf = Buffer.allocUnsafe(len);
    return this.buf;
  }
}

/**
 * Reads complete lines in [from, size), consuming about `budget` bytes at most but always at least one line
 * when one is complete. A partial last line stays unread. A line over `maxLineBytes` is skipped once its
 * newline exists (until then reading stops before it).
 */
export async function readCompleteLines(
  handle: FileHandle,
  from: number,
  size: number,
  budget: number,
  maxLineBytes: number,
  scratch: ReadBuffer,
): Promise<CompleteLines> {
  const lines: CompleteLines['lines'] = [];
  const oversized: CompleteLines['oversized'] = [];
  let pos = from;
  let consumed = 0;
  let want = readSize(budget);
  while (pos < size && (consumed < budget || consumed === 0)) {
    const len = Math.min(want, size - pos);
    const { bytesRead } = await handle.read(scratch.get(len), 0, len, pos);
    if (bytesRead === 0) break; // truncated under us: the next poll sees the new size
    const buf = scratch.get(len).subarray(0, bytesRead); // never scan stale bytes of a grown buffer
    let start = 0;
    let nl = buf.indexOf(10, 0);
    while (nl !== -1) {
      const lineLen = nl - start;
      if (lineLen > maxLineBytes) oversized.push({ offset: pos + start, bytes: lineLen });
      else {
        const end = lineLen > 0 && buf[nl - 1] === 13 ? nl - 1 : nl;
        lines.push({ text: buf.toString('utf8', start, end), endOffset: pos + nl + 1 });
      }
      consumed += lineLen + 1;
      start = nl + 1;
      if (consumed >= budget) break;
      nl = buf.indexOf(10, start);
    }
    if (start > 0) {
      pos += start;
      want = readSize(budget - consumed);
      continue;
    }
    // No newline in [pos, pos + bytesRead).
    if (bytesRead < len || pos + bytesRead >= size) break; // only a partial line is left
    if (bytesRead <= maxLineBytes) {
      want = Math.min(Math.max(want * 2, READ_CHUNK_BYTES), maxLineBytes + 1);
      continue;
    }
    const newline = await findNewline(handle, pos + bytesRead, size, scratch);
    if (newline === -1) break; // oversized and still incomplete: skip it once it is complete
    oversized.push({ offset: pos, bytes: newline - pos });
    consumed += newline - pos + 1;
    pos = newline + 1;
    want = readSize(budget - consumed);
  }
  return { lines, oversized, offset: pos };
}

function readSize(budgetLeft: number): number {
  return Math.min(READ_CHUNK_BYTES, Math.max(MIN_READ_BYTES, budgetLeft));
}

async function findNewline(
  handle: FileHandle,
  from: number,
  size: number,
  scratch: ReadBuffer,
): Promise<number> {
  const buf = scratch.get(READ_CHUNK_BYTES);
  for (let pos = from; pos < size; ) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(READ_CHUNK_BYTES, size - pos), pos);
    if (bytesRead === 0) return -1;
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    if (nl !== -1) return pos + nl;
    pos += bytesRead;
  }
  return -1;
}
