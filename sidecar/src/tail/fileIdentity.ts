import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

/**
 * Bytes hashed for a fingerprint at most. A prefix this long never changes once written (files are
 * only appended to, or truncated), so a first line longer than this is fingerprinted by its prefix.
 */
export const FINGERPRINT_MAX_BYTES = 64 * 1024;

/**
 * Hash of the file's first complete line (or of its first FINGERPRINT_MAX_BYTES when the first line is
 * longer). '' while the file has no complete first line yet: a growing partial line is not stable.
 * Together with device and inode it tells a rotated-and-recreated or truncated-and-rewritten file apart
 * from the one a checkpoint describes, even when the kernel reuses the inode.
 */
export async function firstLineFingerprint(handle: FileHandle, size: number): Promise<string> {
  const want = Math.min(size, FINGERPRINT_MAX_BYTES);
  if (want === 0) return '';
  const buf = Buffer.allocUnsafe(want);
  const { bytesRead } = await handle.read(buf, 0, want, 0);
  const nl = buf.subarray(0, bytesRead).indexOf(10);
  let end: number;
  if (nl !== -1) end = nl;
  else if (bytesRead === FINGERPRINT_MAX_BYTES) end = bytesRead;
  else return '';
  return createHash('sha256').update(buf.subarray(0, end)).digest('hex').slice(0, 32);
}

export function identityKey(dev: number, ino: number, fingerprint: string): string {
  return `${dev}:${ino}:${fingerprint}`;
}
