import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { ReadBuffer } from './completeLines.js';
import { fingerprintFirstLine, identityKey } from './fingerprint.js';
import type { FileCheckpoint } from './types.js';

/** One open file followed by identity (its inode), whatever name it has now. */
export interface TrackedFile {
  checkpoint: FileCheckpoint;
  /** Rotation family (see WatchedPath): its members are read oldest first. */
  family: string;
  /** Kept open: a renamed (rotated) file is still read through it, and its inode cannot be reused. */
  handle: FileHandle;
  size: number;
  mtimeMs: number;
  /** size/mtime/ctime when the fingerprint was last computed: unchanged means no need to hash again. */
  stamp: string;
  /** Wall-clock time of the fstat behind `stamp`. */
  stampedAtMs: number;
  /** Consecutive discoveries that did not find it under any watched name. */
  missed: number;
  /** No complete line left to read after the last read. */
  drained: boolean;
}

export function inodeKey(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

function stampOf(st: Stats): string {
  return `${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/**
 * File times come from a coarse kernel clock: writes within one tick of our last look can leave the stamp
 * unchanged (e.g. truncate and rewrite to the same size). Such a recently modified file is hashed again.
 */
const COARSE_CLOCK_MARGIN_MS = 100;

function mayHaveChanged(file: TrackedFile, st: Stats, stamp: string): boolean {
  return stamp !== file.stamp || st.mtimeMs >= file.stampedAtMs - COARSE_CLOCK_MARGIN_MS;
}

/** A tracked file for a newly opened handle: resumes at `restored` only when it is the same content. */
export async function startTracking(
  handle: FileHandle,
  st: Stats,
  path: string,
  kind: FileCheckpoint['kind'],
  family: string,
  restored: FileCheckpoint | undefined,
  scratch: ReadBuffer,
  statAtMs: number,
): Promise<TrackedFile> {
  const fingerprint = await fingerprintFirstLine(handle, st.size, scratch);
  const sameContent =
    restored !== undefined &&
    restored.fingerprint !== '' &&
    restored.fingerprint === fingerprint &&
    st.size >= restored.offset;
  return {
    checkpoint: {
      key: identityKey(st.dev, st.ino, fingerprint),
      path,
      dev: st.dev,
      ino: st.ino,
      fingerprint,
      offset: sameContent ? restored.offset : 0,
      kind,
    },
    family,
    handle,
    size: st.size,
    mtimeMs: st.mtimeMs,
    stamp: stampOf(st),
    stampedAtMs: statAtMs,
    missed: 0,
    drained: false,
  };
}

/**
 * Brings a tracked file up to date with a fresh fstat. Truncation (the collector restarted without
 * append: size below the offset, or a different first line) restarts reading at 0 for the new content.
 * Returns the bytes of the old content that were never read and now never can be.
 */
export async function refreshTracking(
  file: TrackedFile,
  st: Stats,
  statAtMs: number,
  scratch: ReadBuffer,
): Promise<number> {
  let lost = 0;
  const cp = file.checkpoint;
  const stamp = stampOf(st);
  if (mayHaveChanged(file, st, stamp)) {
    const fingerprint = await fingerprintFirstLine(file.handle, st.size, scratch);
    const replaced = cp.fingerprint !== '' && fingerprint !== cp.fingerprint;
    if (replaced || st.size < cp.offset) {
      lost = Math.max(0, file.size - cp.offset);
      cp.offset = 0;
    }
    cp.fingerprint = fingerprint;
    cp.key = identityKey(cp.dev, cp.ino, fingerprint);
    file.stamp = stamp;
    file.stampedAtMs = statAtMs;
  }
  file.size = st.size;
  file.mtimeMs = st.mtimeMs;
  file.drained = cp.fingerprint === '' || cp.offset >= st.size;
  return lost;
}
