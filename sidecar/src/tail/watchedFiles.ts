import { readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { glob } from 'tinyglobby';

export type FileKind = 'otlp' | 'jsonl';

/**
 * The collector's file exporter (lumberjack) rotates `<name>.<ext>` by renaming it to
 * `<name>-<timestamp>[-size].<ext>` beside it. Those siblings are watched for every file a glob ever
 * matched, so a rotated file is found again (by identity) and read to its end even when the user's glob
 * names only the live file.
 */
export function isRotatedSibling(livePath: string, candidateName: string): boolean {
  const ext = extname(livePath);
  const stem = basename(livePath, ext);
  return (
    candidateName.length > stem.length + 1 + ext.length &&
    candidateName.startsWith(`${stem}-`) &&
    candidateName.endsWith(ext)
  );
}

/**
 * Watches the globs and remembers every path they matched (a live file may be missing for an instant
 * during rotation; its backups must still be found).
 */
export class WatchedFiles {
  /** Path -> kind and how many discoveries in a row found it missing (pruned after a few). */
  private readonly livePaths = new Map<string, { kind: FileKind; missing: number }>();

  constructor(
    private readonly otlpGlobs: string[],
    private readonly jsonlGlobs: string[],
    /** Paths from restored checkpoints: their rotated siblings are watched from the first poll. */
    rememberedPaths: Iterable<[string, FileKind]> = [],
  ) {
    for (const [path, kind] of rememberedPaths) this.livePaths.set(path, { kind, missing: 0 });
  }

  /** Every path that may hold lines now: glob matches, remembered paths and their rotated siblings. */
  async discover(): Promise<Map<string, FileKind>> {
    const found = new Map<string, FileKind>();
    for (const [globs, kind] of [
      [this.otlpGlobs, 'otlp'],
      [this.jsonlGlobs, 'jsonl'],
    ] as const) {
      if (globs.length === 0) continue;
      const paths = await glob(globs, {
        absolute: true,
        onlyFiles: true,
        dot: true,
        expandDirectories: false,
      });
      for (const path of paths) {
        if (!found.has(path)) found.set(path, kind);
        if (!this.livePaths.has(path)) this.livePaths.set(path, { kind, missing: 0 });
      }
    }
    const byDir = new Map<string, string[]>();
    for (const path of this.livePaths.keys()) {
      const dir = dirname(path);
      const list = byDir.get(dir) ?? [];
      list.push(path);
      byDir.set(dir, list);
    }
    for (const [dir, lives] of byDir) {
      // A backup matched by the glob is found as a sibling of its live file: do not remember it too.
      const roots = lives.filter(
        (p) => !lives.some((other) => other !== p && isRotatedSibling(other, basename(p))),
      );
      for (const p of lives) if (!roots.includes(p)) this.livePaths.delete(p);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        names = [];
      }
      const present = new Set(names);
      for (const live of roots) {
        const entry = this.livePaths.get(live);
        if (entry === undefined) continue;
        if (present.has(basename(live))) {
          entry.missing = 0;
          if (!found.has(live)) found.set(live, entry.kind);
        } else if (++entry.missing >= 3) this.livePaths.delete(live);
        for (const name of names) {
          const path = join(dir, name);
          if (isRotatedSibling(live, name) && !found.has(path)) found.set(path, entry.kind);
        }
      }
    }
    return found;
  }
}
