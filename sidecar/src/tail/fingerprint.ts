import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { ReadBuffer } from './completeLines.js';

/** Read step while looking for the first newline: first lines are usually short. */
const STEP_BYTES = 64 * 1024;

/**
 * Hash (sha1, 24 hex chars) of the file's first complete line, streamed so a long first line costs no
 * memory; '' while the first line is not complete (a growing partial line is not a stable identity).
 * With device and inode it tells a truncated-and-rewritten file, or a reused inode, from the content a
 * checkpoint describes.
 */
export async function fingerprintFirstLine(
  handle: FileHandle,
  size: number,
  scratch: ReadBuffer,
): Promise<string> {
  const hash = createHash('sha1');
  const buf = scratch.get(STEP_BYTES);
  for (let pos = 0; pos < size; ) {
    const len = Math.min(STEP_BYTES, size - pos);
    const { bytesRead } = await handle.read(buf, 0, len, pos);
    if (bytesRead === 0) return '';
    const nl = buf.indexOf(10, 0);
    if (nl !== -1 && nl < bytesRead) {
      hash.update(buf.subarray(0, nl));
      return hash.digest('hex').slice(0, 24);
    }
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return '';
}

export function identityKey(dev: number, ino: number, fingerprint: string): string {
  return `${dev}:${ino}:${fingerprint}`;
}
