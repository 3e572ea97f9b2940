import { constants } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { findNewline, ReadBuffer, readCompleteLines } from './completeLines.js';
import { inodeKey, readLastBytes, refreshTracking, startTracking, type TrackedFile } from './trackedFile.js';
import type {
  FileCheckpoint,
  LostReason,
  OversizedLine,
  TailBatch,
  Tailer,
  TailerOptions,
  TailLine,
  UnreadableFile,
  UnreadableReason,
} from './types.js';
import { type FileKind, WatchedFiles, type WatchedPath } from './watchedFiles.js';

/** A file missing from this many discoveries in a row (and read to its end) is forgotten. */
const MISSED_DISCOVERIES_TO_FORGET = 2;

/** An error from the file system (ENOENT between discovery and open, EACCES, ...): a race, not a bug. */
function isIoError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? '';
}

/** Why a file that exists cannot be opened or read; undefined for a race (it is gone). */
function unreadableReason(code: string): UnreadableReason | undefined {
  if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
  if (code === 'EACCES' || code === 'EPERM') return 'permission_denied';
  if (code === 'EMFILE' || code === 'ENFILE') return 'too_many_open_files';
  return 'io_error';
}

/**
 * Records why a matched path could not be looked up or opened (nothing for a race: it is gone);
 * rethrows what is not an I/O error.
 */
function noteOpenFailure(
  failures: Map<string, UnreadableFile>,
  path: string,
  error: unknown,
  bytes: number,
): void {
  if (!isIoError(error)) throw error;
  const code = errorCode(error);
  const reason = unreadableReason(code);
  if (reason !== undefined) failures.set(path, { path, reason, detail: code, bytes });
}

/**
 * Opened without blocking: a path replaced by a FIFO between its stat and its open would otherwise
 * block a thread of the I/O pool until a writer came (no effect on regular files).
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * Polling tailer over the otlp and jsonl globs: yields complete lines exactly once per file content,
 * following files by identity (device + inode + first-line hash) through rotation, truncation, deletion
 * and restarts from committed checkpoints. See `Tailer` in types.ts for the contract.
 */
export function createTailer(options: TailerOptions): Tailer {
  const scratch = new ReadBuffer();
  const tracked = new Map<string, TrackedFile>(); // by inode: one content per inode at a time
  const restored = new Map<string, { checkpoint: FileCheckpoint; missed: number }>();
  for (const cp of options.checkpoints)
    restored.set(inodeKey(cp.dev, cp.ino), { checkpoint: { ...cp }, missed: 0 });
  const watched = new WatchedFiles(
    options.otlpGlobs,
    options.jsonlGlobs,
    options.checkpoints.map((cp): [string, FileKind] => [cp.path, cp.kind]),
  );
  let polling = false;
  let closed = false;
  let pollCount = 0;
  let lastDiscoveryMs = 0;
  let midBacklog = false;
  /** Matched paths that could not be opened at the last discovery, with why. */
  let openFailures = new Map<string, UnreadableFile>();

  /** Finds `path`'s file among the tracked ones, or opens and starts tracking it. */
  async function see(
    path: string,
    { kind, family }: WatchedPath,
    seen: Set<string>,
    failures: Map<string, UnreadableFile>,
  ): Promise<void> {
    let inode: string;
    let size: number;
    try {
      const st = await stat(path);
      if (!st.isFile()) return;
      inode = inodeKey(st.dev, st.ino);
      size = st.size;
    } catch (error) {
      // Gone (a race, a dangling link) is nothing to report; a name that cannot be looked up is.
      noteOpenFailure(failures, path, error, 0);
      return;
    }
    const known = tracked.get(inode);
    if (known !== undefined) {
      if (!seen.has(inode)) {
        known.checkpoint.path = path; // renamed (rotated): same file, new name
        known.family = family;
      }
      seen.add(inode);
      return;
    }
    let handle: FileHandle;
    try {
      handle = await open(path, OPEN_FLAGS);
    } catch (error) {
      noteOpenFailure(failures, path, error, size);
      return;
    }
    try {
      const statAtMs = Date.now();
      const st = await handle.stat();
      const opened = inodeKey(st.dev, st.ino);
      if (!st.isFile() || tracked.has(opened)) {
        await handle.close(); // replaced between stat and open: found again on the next poll
        return;
      }
      const prior = restored.get(opened)?.checkpoint;
      const file = await startTracking(handle, st, path, kind, family, prior, scratch, statAtMs);
      restored.delete(opened); // only now: an I/O error above leaves the checkpoint for the next poll
      tracked.set(opened, file);
      seen.add(opened);
    } catch (error) {
      await handle.close().catch(() => undefined);
      if (isIoError(error)) return;
      throw error;
    }
  }

  /**
   * Re-stats every tracked file; drops deleted ones. Returns the bytes lost to deletion/truncation.
   * `seen`: the inodes this poll's discovery found (undefined when the poll did not discover).
   */
  async function refreshAll(seen: Set<string> | undefined, lost: Record<LostReason, number>): Promise<void> {
    for (const [inode, file] of tracked) {
      if (seen !== undefined) file.missed = seen.has(inode) ? 0 : file.missed + 1;
      try {
        const statAtMs = Date.now();
        const st = await file.handle.stat();
        if (st.nlink === 0) {
          // Deleted: its name is gone, so nothing more is read from it (deterministic, like the collector's view).
          if (file.format?.binary !== true) lost.deleted += Math.max(0, st.size - file.checkpoint.offset);
          tracked.delete(inode);
          await file.handle.close().catch(() => undefined);
          continue;
        }
        lost.truncated += await refreshTracking(file, st, statAtMs, scratch);
        file.ioError = '';
      } catch (error) {
        if (!isIoError(error)) throw error;
        file.ioError = errorCode(error);
        file.drained = true; // unreadable this poll; retried on the next
      }
    }
    if (seen !== undefined)
      for (const [inode, entry] of restored) {
        if (++entry.missed >= MISSED_DISCOVERIES_TO_FORGET) restored.delete(inode);
      }
  }

  /**
   * Reads about `maxBytes` of complete lines, round-robin over rotation families; within a family the
   * oldest file with data first (a backup is finished before its successor), so lines keep their order.
   */
  async function readAll(maxBytes: number, lines: TailLine[], oversized: OversizedLine[]): Promise<void> {
    const families = new Map<string, TrackedFile[]>();
    for (const file of tracked.values()) {
      if (file.drained) continue;
      const members = families.get(file.family) ?? [];
      members.push(file);
      families.set(file.family, members);
    }
    const sorted = [...families.values()].map((members) =>
      members.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.checkpoint.path < b.checkpoint.path ? -1 : 1)),
    );
    // Each poll starts at the next family, so small budgets do not always favour the same one.
    const start = sorted.length === 0 ? 0 : pollCount++ % sorted.length;
    const queues = [...sorted.slice(start), ...sorted.slice(0, start)];
    let budget = maxBytes;
    let active = queues;
    while (active.length > 0 && (budget > 0 || lines.length + oversized.length === 0)) {
      const share = Math.max(1, Math.ceil(budget / active.length));
      for (const queue of active) {
        if (budget <= 0 && lines.length + oversized.length > 0) break;
        const file = queue.find((f) => !f.drained);
        if (file !== undefined) budget -= await readFile(file, share, lines, oversized);
      }
      active = active.filter((queue) => queue.some((f) => !f.drained));
    }
  }

  /** Reads up to about `share` bytes of complete lines from one file; returns the bytes consumed. */
  async function readFile(file: TrackedFile, share: number, lines: TailLine[], oversized: OversizedLine[]) {
    const cp = file.checkpoint;
    let got: Awaited<ReturnType<typeof readCompleteLines>>;
    try {
      // The unfinished line was read before: look only at what was added since for its newline.
      const nl = file.noNewline;
      if (nl !== null && nl.from === cp.offset && nl.to < file.size) {
        if ((await findNewline(file.handle, nl.to, file.size, scratch)) === -1) {
          nl.to = file.size;
          file.drained = true;
          return 0;
        }
      }
      got = await readCompleteLines(
        file.handle,
        cp.offset,
        file.size,
        share,
        options.maxLineBytes,
        scratch,
        cp.kind === 'otlp',
      );
    } catch (error) {
      if (!isIoError(error)) throw error;
      file.ioError = errorCode(error);
      file.drained = true; // unreadable this poll; retried on the next
      return 0;
    }
    file.ioError = '';
    for (const line of got.lines)
      lines.push({ text: line.text, kind: cp.kind, path: cp.path, endOffset: line.endOffset });
    for (const o of got.oversized)
      oversized.push({
        path: cp.path,
        kind: cp.kind,
        offset: o.offset,
        bytes: o.bytes,
        signal: cp.kind === 'otlp' ? o.signal : undefined,
        records: cp.kind === 'otlp' ? o.records : 1,
      });
    const consumed = got.offset - cp.offset;
    if (consumed > 0) {
      try {
        file.lastBytes = await readLastBytes(file.handle, got.offset);
      } catch (error) {
        if (!isIoError(error)) throw error;
        file.lastBytes = null; // not compared: the first line and the size still tell
      }
    }
    // An unfinished last line read to the end: remember it (see TrackedFile.noNewline).
    file.noNewline = got.unfinishedTo >= 0 ? { from: got.offset, to: got.unfinishedTo } : null;
    cp.offset = got.offset;
    if (consumed < share || cp.offset >= file.size) file.drained = true;
    return consumed;
  }

  /** Forgets files gone from every watched name for a while once nothing complete is left in them. */
  async function forgetVanished(lost: Record<LostReason, number>): Promise<void> {
    for (const [inode, file] of tracked) {
      if (file.missed < MISSED_DISCOVERIES_TO_FORGET || !file.drained) continue;
      if (file.format?.binary !== true) lost.deleted += Math.max(0, file.size - file.checkpoint.offset);
      tracked.delete(inode);
      await file.handle.close().catch(() => undefined);
    }
  }

  return {
    async poll(maxBytes: number): Promise<TailBatch> {
      if (polling) throw new Error('Tailer.poll called while a poll is running');
      if (closed) throw new Error('Tailer.poll called after close');
      polling = true;
      try {
        // Mid-backlog (the last poll stopped at its budget), the globs and directories are listed again
        // only every `rediscoverMs`: listing is a poll's fixed cost, and new files can wait that long.
        const now = Date.now();
        const discover = !midBacklog || now - lastDiscoveryMs >= (options.rediscoverMs ?? 0);
        const seen = discover ? new Set<string>() : undefined;
        if (seen !== undefined) {
          lastDiscoveryMs = now;
          const failures = new Map<string, UnreadableFile>();
          for (const [path, watchedPath] of await watched.discover())
            await see(path, watchedPath, seen, failures);
          openFailures = failures;
        }
        const lost: Record<LostReason, number> = { deleted: 0, truncated: 0 };
        await refreshAll(seen, lost);
        const lines: TailLine[] = [];
        const oversized: OversizedLine[] = [];
        await readAll(maxBytes, lines, oversized);
        await forgetVanished(lost);
        const checkpoints: FileCheckpoint[] = [];
        const unreadBytes: Record<string, number> = {};
        const unreadable: UnreadableFile[] = [...openFailures.values()];
        let caughtUp = true;
        for (const file of tracked.values()) {
          checkpoints.push({ ...file.checkpoint });
          const path = file.checkpoint.path;
          const format = file.format;
          if (format?.binary === true)
            unreadable.push({ path, reason: format.reason, detail: format.detail, bytes: file.size });
          else if (file.ioError !== '')
            unreadable.push({ path, reason: 'io_error', detail: file.ioError, bytes: file.size });
          else unreadBytes[path] = (unreadBytes[path] ?? 0) + file.size - file.checkpoint.offset;
          if (!file.drained) caughtUp = false;
        }
        for (const entry of restored.values()) checkpoints.push({ ...entry.checkpoint });
        midBacklog = !caughtUp;
        return { lines, oversized, checkpoints, unreadBytes, caughtUp, lost, unreadable };
      } finally {
        polling = false;
      }
    },
    async close(): Promise<void> {
      closed = true;
      const files = [...tracked.values()];
      tracked.clear();
      await Promise.all(files.map((f) => f.handle.close().catch(() => undefined)));
    },
  };
}
