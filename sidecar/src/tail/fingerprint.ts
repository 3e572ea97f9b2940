import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { findNewline, READ_CHUNK_BYTES, type ReadBuffer } from './completeLines.js';

/**
 * Bytes of the first line that are hashed at most. The prefix of a complete line never changes until the
 * file is truncated, and collector lines can be megabytes long: hashing them whole on every look costs CPU
 * and adds nothing.
 */
export const FINGERPRINT_MAX_BYTES = 64 * 1024;

/**
 * Hash (sha1, 24 hex chars) of the file's first complete line (its first FINGERPRINT_MAX_BYTES when
 * longer); '' while the first line is not complete (a growing partial line is not a stable identity).
 * With device and inode it tells a truncated-and-rewritten file, or a reused inode, from the content a
 * checkpoint describes. Memory stays within the shared read buffer whatever the line length.
 */
export async function fingerprintFirstLine(
  handle: FileHandle,
  size: number,
  scratch: ReadBuffer,
  /** Bytes [0, noNewlineBefore) are known to hold no newline (a first line still being written). */
  noNewlineBefore = 0,
): Promise<string> {
  if (noNewlineBefore > FINGERPRINT_MAX_BYTES) {
    const nl = await findNewline(handle, noNewlineBefore, size, scratch);
    if (nl === -1) return '';
    return fingerprintFirstLine(handle, size, scratch);
  }
  const hash = createHash('sha1');
  for (let pos = 0; pos < size; ) {
    // Short first step: first lines are usually short; then big steps to find a long line's end.
    const step = pos === 0 ? FINGERPRINT_MAX_BYTES : READ_CHUNK_BYTES;
    const buf = scratch.get(step);
    const { bytesRead } = await handle.read(buf, 0, Math.min(step, size - pos), pos);
    if (bytesRead === 0) return '';
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    const lineEnd = nl === -1 ? bytesRead : nl;
    if (pos === 0) hash.update(buf.subarray(0, lineEnd));
    if (nl !== -1) return hash.digest('hex').slice(0, 24);
    pos += bytesRead;
  }
  return '';
}

export function identityKey(dev: number, ino: number, fingerprint: string): string {
  return `${dev}:${ino}:${fingerprint}`;
}
