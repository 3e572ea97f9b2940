import type { FileHandle } from 'node:fs/promises';

const CHUNK_BYTES = 1024 * 1024;

export interface ReadResult {
  /** Complete lines (newline and trailing \r removed) with the offset just past each newline. */
  lines: { text: string; endOffset: number }[];
  oversized: { offset: number; bytes: number }[];
  /** Offset just past the last consumed newline. */
  offset: number;
  /** True when reading stopped at end of data (only a partial line or nothing is left), not at the budget. */
  reachedEnd: boolean;
}

/**
 * Reads complete lines from `offset` up to `size`, about `budget` bytes at most. Never consumes a
 * partial last line. A line longer than `maxLineBytes` is skipped without ever being buffered whole
 * (memory stays within max(1 MiB, maxLineBytes + 1)) and reported in `oversized` once its newline exists.
 */
export async function readCompleteLines(
  handle: FileHandle,
  offset: number,
  size: number,
  budget: number,
  maxLineBytes: number,
): Promise<ReadResult> {
  const lines: ReadResult['lines'] = [];
  const oversized: ReadResult['oversized'] = [];
  let pos = offset;
  let consumed = 0;
  let want = CHUNK_BYTES;
  while (pos < size && consumed < budget) {
    const len = Math.min(want, size - pos);
    const buf = Buffer.allocUnsafe(len);
    const { bytesRead } = await handle.read(buf, 0, len, pos);
    if (bytesRead === 0) break;
    let start = 0;
    let found = false;
    for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < bytesRead; nl = buf.indexOf(10, start)) {
      const lineLen = nl - start;
      if (lineLen > maxLineBytes) oversized.push({ offset: pos + start, bytes: lineLen });
      else {
        const end = lineLen > 0 && buf[nl - 1] === 13 ? nl - 1 : nl;
        lines.push({ text: buf.toString('utf8', start, end), endOffset: pos + nl + 1 });
      }
      consumed += lineLen + 1;
      start = nl + 1;
      found = true;
      if (consumed >= budget) break;
    }
    pos += start;
    if (found) {
      want = CHUNK_BYTES;
      continue;
    }
    if (bytesRead < want) return { lines, oversized, offset: pos, reachedEnd: true };
    if (want <= maxLineBytes) {
      want = Math.min(want * 2, maxLineBytes + 1);
      continue;
    }
    // The line at `pos` is longer than the maximum: find its end without holding it.
    const end = await findNewline(handle, pos + bytesRead, size);
    if (end === -1) return { lines, oversized, offset: pos, reachedEnd: true };
    oversized.push({ offset: pos, bytes: end - pos });
    consumed += end - pos + 1;
    pos = end + 1;
    want = CHUNK_BYTES;
  }
  return { lines, oversized, offset: pos, reachedEnd: pos >= size || consumed < budget };
}

async function findNewline(handle: FileHandle, from: number, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  for (let pos = from; pos < size; ) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK_BYTES, size - pos), pos);
    if (bytesRead === 0) return -1;
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    if (nl !== -1) return pos + nl;
    pos += bytesRead;
  }
  return -1;
}
