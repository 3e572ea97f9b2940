import { basename, dirname, extname, join } from 'node:path';
import picomatch from 'picomatch';
import { glob } from 'tinyglobby';

export type FileKind = 'otlp' | 'jsonl';

/**
 * The collector's file exporter (lumberjack) renames a full file `<name>.<ext>` to
 * `<name>-<timestamp>[-size].<ext>` beside it. Matching those too means a rotated file is still found
 * (by identity) and read to its end even when the user's glob names only the live file.
 */
export function rotatedBackupGlob(pattern: string): string {
  const dir = dirname(pattern);
  const base = basename(pattern);
  const ext = extname(base);
  const stem = ext === '' ? base : base.slice(0, -ext.length);
  return join(dir, `${stem}-*${ext}`);
}

async function expand(pattern: string): Promise<string[]> {
  const scanned = picomatch.scan(pattern);
  const cwd = scanned.base === '' ? '.' : scanned.base;
  if (!scanned.isGlob) return [pattern];
  const found = await glob(scanned.glob, { cwd, absolute: true, onlyFiles: true, dot: true });
  return found;
}

/** Every existing path that matches a glob (or a rotated backup of one), with the decoder it feeds. */
export async function discoverFiles(otlpGlobs: string[], jsonlGlobs: string[]): Promise<Map<string, FileKind>> {
  const out = new Map<string, FileKind>();
  const groups: [string[], FileKind][] = [
    [otlpGlobs, 'otlp'],
    [jsonlGlobs, 'jsonl'],
  ];
  for (const [globs, kind] of groups) {
    for (const g of globs) {
      for (const pattern of [g, rotatedBackupGlob(g)]) {
        for (const path of await expand(pattern)) if (!out.has(path)) out.set(path, kind);
      }
    }
  }
  return out;
}
