import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { ReadBuffer } from './completeLines.js';
import { type FileFormat, FORMAT_HEAD_BYTES, formatOf } from './fileFormat.js';
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
  /** Text or a binary export (never read); null until its first bytes tell. */
  format: FileFormat | null;
  /** The code of the I/O error its last stat or read failed with ('' when it did not). */
  ioError: string;
  /**
   * Bytes [from, to) known to hold no newline, `from` being the offset when it was learnt: the
   * unfinished last line is not read again until the file grows past `to`, and then only the new
   * bytes are looked at for a newline (a line that never ends, or grows slowly, would otherwise be
   * read whole on every poll).
   */
  noNewline: { from: number; to: number } | null;
  /**
   * The bytes just before the offset (up to LAST_BYTES), as they were when reading reached it; null
   * until then. A file rewritten from its start with the same first line and grown past the offset
   * (a collector that restarted without append and re-sent its first batch) shows as other bytes there.
   */
  lastBytes: Buffer | null;
  /** The size at which the file had no complete first line yet (0 when it has one): see fingerprintFirstLine. */
  firstLineOpenTo: number;
}

/** Bytes before the offset compared to tell a rewritten file from a grown one. */
const LAST_BYTES = 64;

/** The up to LAST_BYTES bytes before `offset`. */
export async function readLastBytes(handle: FileHandle, offset: number): Promise<Buffer> {
  const len = Math.min(LAST_BYTES, offset);
  const buf = Buffer.alloc(len);
  const { bytesRead } = await handle.read(buf, 0, len, offset - len);
  return buf.subarray(0, bytesRead);
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

/** The format of the file's content (see formatOf): its first bytes. */
async function readFormat(handle: FileHandle, size: number, scratch: ReadBuffer): Promise<FileFormat | null> {
  if (size === 0) return null;
  const buf = scratch.get(FORMAT_HEAD_BYTES);
  const { bytesRead } = await handle.read(buf, 0, Math.min(FORMAT_HEAD_BYTES, size), 0);
  return formatOf(buf.subarray(0, bytesRead));
}

/**
 * Nothing to read now: no complete first line, read to its end, not text, or only an unfinished line
 * left that has not grown since it was read.
 */
function isDrained(file: TrackedFile, size: number): boolean {
  const cp = file.checkpoint;
  const nl = file.noNewline;
  return (
    cp.fingerprint === '' ||
    cp.offset >= size ||
    file.format?.binary !== false ||
    (nl !== null && nl.from === cp.offset && nl.to >= size)
  );
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
  // Content already read from is text; anything else is looked at.
  const format =
    sameContent && restored.offset > 0
      ? { binary: false as const }
      : await readFormat(handle, st.size, scratch);
  const file: TrackedFile = {
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
    format,
    ioError: '',
    noNewline: null,
    lastBytes: null,
    firstLineOpenTo: fingerprint === '' ? st.size : 0,
  };
  if (file.checkpoint.offset > 0) file.lastBytes = await readLastBytes(handle, file.checkpoint.offset);
  file.drained = isDrained(file, st.size);
  return file;
}

/**
 * Brings a tracked file up to date with a fresh fstat. Truncation (the collector restarted without
 * append: size below the offset, a different first line, or other bytes just before the offset)
 * restarts reading at 0 for the new content.
 * Returns the bytes of the old content that were never read and now never can be (truncated).
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
    // A first line still being written is looked at again only past where it was read to.
    const open = cp.fingerprint === '' && st.size >= file.firstLineOpenTo ? file.firstLineOpenTo : 0;
    const fingerprint = await fingerprintFirstLine(file.handle, st.size, scratch, open);
    file.firstLineOpenTo = fingerprint === '' ? st.size : 0;
    const replaced =
      (cp.fingerprint !== '' && fingerprint !== cp.fingerprint) ||
      (st.size >= cp.offset &&
        file.lastBytes !== null &&
        !(await readLastBytes(file.handle, cp.offset)).equals(file.lastBytes));
    if (replaced || st.size < cp.offset) {
      // A binary file's bytes were never to be read: reported as unreadable, not lost.
      if (file.format?.binary !== true) lost = Math.max(0, file.size - cp.offset);
      cp.offset = 0;
      file.format = null;
      file.noNewline = null;
      file.lastBytes = null;
    }
    if (file.format === null) file.format = await readFormat(file.handle, st.size, scratch);
    cp.fingerprint = fingerprint;
    cp.key = identityKey(cp.dev, cp.ino, fingerprint);
    file.stamp = stamp;
    file.stampedAtMs = statAtMs;
  }
  file.size = st.size;
  file.mtimeMs = st.mtimeMs;
  file.drained = isDrained(file, st.size);
  return lost;
}
