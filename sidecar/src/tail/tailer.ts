import { type FileHandle, open } from 'node:fs/promises';
import { readCompleteLines } from './completeLineReader.js';
import { discoverFiles } from './discoverFiles.js';
import { firstLineFingerprint, identityKey } from './fileIdentity.js';
import type { FileCheckpoint, TailBatch, TailLine, Tailer, TailerOptions } from './types.js';

interface OpenFile {
  checkpoint: FileCheckpoint;
  handle: FileHandle;
  size: number;
  mtimeMs: number;
}

/**
 * Decides where to resume reading a file: at the checkpoint when the file is the one the checkpoint
 * describes (same device+inode, same first-line hash or none recorded yet, not shorter than the
 * offset), else from 0 (a new file, a reused inode, or a truncated/rewritten one).
 */
export function resumeCheckpoint(
  previous: FileCheckpoint | undefined,
  seen: { path: string; dev: number; ino: number; size: number; fingerprint: string; kind: FileCheckpoint['kind'] },
): FileCheckpoint {
  const sameFile =
    previous !== undefined &&
    (previous.fingerprint === '' || previous.fingerprint === seen.fingerprint) &&
    seen.size >= previous.offset;
  const offset = sameFile ? previous.offset : 0;
  const kind = sameFile ? previous.kind : seen.kind;
  return {
    key: identityKey(seen.dev, seen.ino, seen.fingerprint),
    path: seen.path,
    dev: seen.dev,
    ino: seen.ino,
    fingerprint: seen.fingerprint,
    offset,
    kind,
  };
}

/** Polling tailer over globs; see `Tailer` for the guarantees. */
export function createTailer(options: TailerOptions): Tailer {
  let tracked = new Map<string, FileCheckpoint>();
  for (const cp of options.checkpoints) tracked.set(`${cp.dev}:${cp.ino}`, cp);

  async function openAll(): Promise<OpenFile[]> {
    const paths = await discoverFiles(options.otlpGlobs, options.jsonlGlobs);
    const files = new Map<string, OpenFile>();
    for (const [path, kind] of paths) {
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch {
        continue; // deleted between discovery and open
      }
      try {
        const st = await handle.stat();
        const devIno = `${st.dev}:${st.ino}`;
        if (!st.isFile() || files.has(devIno)) {
          await handle.close();
          continue;
        }
        const fingerprint = await firstLineFingerprint(handle, st.size);
        const checkpoint = resumeCheckpoint(tracked.get(devIno), {
          path,
          dev: st.dev,
          ino: st.ino,
          size: st.size,
          fingerprint,
          kind,
        });
        files.set(devIno, { checkpoint, handle, size: st.size, mtimeMs: st.mtimeMs });
      } catch {
        await handle.close().catch(() => undefined);
      }
    }
    return [...files.values()];
  }

  return {
    async poll(maxBytes: number): Promise<TailBatch> {
      const files = await openAll();
      // Older files first: a rotated backup is finished before its successor is started.
      files.sort((a, b) => a.mtimeMs - b.mtimeMs || a.checkpoint.path.localeCompare(b.checkpoint.path));
      const lines: TailLine[] = [];
      const oversized: TailBatch['oversized'] = [];
      const unreadBytes: Record<string, number> = {};
      let budget = maxBytes;
      let caughtUp = true;
      const next = new Map<string, FileCheckpoint>();
      try {
        for (const f of files) {
          const cp = f.checkpoint;
          if (budget > 0 && cp.offset < f.size) {
            const r = await readCompleteLines(f.handle, cp.offset, f.size, budget, options.maxLineBytes);
            for (const l of r.lines) lines.push({ text: l.text, kind: cp.kind, path: cp.path, endOffset: l.endOffset });
            for (const o of r.oversized) oversized.push({ path: cp.path, kind: cp.kind, ...o });
            budget -= r.offset - cp.offset;
            cp.offset = r.offset;
            if (!r.reachedEnd) caughtUp = false;
          } else if (cp.offset < f.size && budget <= 0) {
            caughtUp = false;
          }
          unreadBytes[cp.path] = f.size - cp.offset;
          next.set(`${cp.dev}:${cp.ino}`, cp);
        }
      } finally {
        await Promise.all(files.map((f) => f.handle.close().catch(() => undefined)));
      }
      tracked = next;
      return { lines, oversized, checkpoints: [...next.values()].map((c) => ({ ...c })), unreadBytes, caughtUp };
    },
    async close(): Promise<void> {
      tracked.clear();
    },
  };
}
