import { readdir } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';

export type FileKind = 'otlp' | 'jsonl';

export interface WatchedPath {
  kind: FileKind;
  /** The live path this file belongs to: a family is read oldest first, so lines keep their order. */
  family: string;
}

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
  private readonly livePaths = new Map<string, { kind: FileKind; missing: number; pinned?: boolean }>();

  constructor(
    private readonly otlpGlobs: string[],
    private readonly jsonlGlobs: string[],
    /** Paths from restored checkpoints: their rotated siblings are watched from the first poll. */
    rememberedPaths: Iterable<[string, FileKind]> = [],
  ) {
    for (const [path, kind] of rememberedPaths) this.livePaths.set(path, { kind, missing: 0 });
    // A glob that names one file is watched even while that file is missing: right after a rotation
    // (or before the first poll) its backups may be the only files holding unread lines.
    for (const [globs, kind] of [
      [otlpGlobs, 'otlp'],
      [jsonlGlobs, 'jsonl'],
    ] as const) {
      for (const g of globs)
        if (!isDynamicPattern(g)) this.livePaths.set(resolve(g), { kind, missing: 0, pinned: true });
    }
  }

  /**
   * Every path that may hold lines now (glob matches, remembered paths and their rotated siblings), with
   * its kind and its rotation family (the live path it was rotated from, or itself).
   */
  async discover(): Promise<Map<string, WatchedPath>> {
    const found = new Map<string, WatchedPath>();
    for (const [globs, kind] of [
      [this.otlpGlobs, 'otlp'],
      [this.jsonlGlobs, 'jsonl'],
    ] as const) {
      if (globs.length === 0) continue;
      let paths: string[];
      try {
        paths = await glob(globs, { absolute: true, onlyFiles: true, dot: true, expandDirectories: false });
      } catch (error) {
        if (!(error instanceof Error && 'code' in error)) throw error;
        paths = []; // a directory vanished mid-walk: the next poll looks again
      }
      for (const path of paths) {
        if (!found.has(path)) found.set(path, { kind, family: path });
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
      const liveIndex = new SiblingIndex(lives);
      const roots = lives.filter((p) => liveIndex.familyOf(basename(p), p) === undefined);
      const rootSet = new Set(roots);
      for (const p of lives) if (!rootSet.has(p)) this.livePaths.delete(p);
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
          if (!found.has(live)) found.set(live, { kind: entry.kind, family: live });
        } else if (++entry.missing >= 3 && !entry.pinned) this.livePaths.delete(live);
      }
      const rootIndex = new SiblingIndex(roots);
      for (const name of names) {
        const live = rootIndex.familyOf(name);
        if (live === undefined) continue;
        const entry = this.livePaths.get(live);
        if (entry === undefined) continue;
        const path = join(dir, name);
        const seen = found.get(path);
        if (seen === undefined) found.set(path, { kind: entry.kind, family: live });
        else seen.family = live;
      }
    }
    return found;
  }
}

/**
 * The live files of one directory by stem, so finding which of them a name is a rotated sibling of
 * costs a lookup per `-` in the name rather than a comparison with every live file: a glob over
 * thousands of per-resource files (the exporter's `group_by`) would otherwise take seconds per poll.
 */
class SiblingIndex {
  /** Stem -> the live paths with that stem, with their extension and their order among the lives. */
  private readonly byStem = new Map<string, { path: string; ext: string; order: number }[]>();

  constructor(lives: readonly string[]) {
    lives.forEach((path, order) => {
      const ext = extname(path);
      const stem = basename(path, ext);
      const list = this.byStem.get(stem) ?? [];
      list.push({ path, ext, order });
      this.byStem.set(stem, list);
    });
  }

  /**
   * The live path `name` is a rotated sibling of (`isRotatedSibling`), other than `self`; when it is
   * one of several, the last of them in the lives' order (as a scan of them all would leave it).
   */
  familyOf(name: string, self?: string): string | undefined {
    let best: { path: string; order: number } | undefined;
    for (let dash = name.indexOf('-'); dash !== -1; dash = name.indexOf('-', dash + 1)) {
      const candidates = this.byStem.get(name.slice(0, dash));
      if (candidates === undefined) continue;
      for (const c of candidates)
        if (c.path !== self && (best === undefined || c.order > best.order) && isRotatedSibling(c.path, name))
          best = c;
    }
    return best?.path;
  }
}
