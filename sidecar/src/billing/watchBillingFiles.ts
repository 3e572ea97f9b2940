import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { glob } from 'tinyglobby';
import type { LedgerStore } from '../ledger/store.js';
import { type BillingImportResult, importBillingFileOffThread } from './importBillingFile.js';

export interface BillingWatcher {
  /** One pass: import every matching file whose size or mtime changed since it was last imported. */
  scan(): Promise<BillingImportResult[]>;
  stop(): void;
}

/**
 * Polls `--billing` globs (exports are dropped by cron jobs or sync tools, often on network
 * filesystems where inotify is unreliable, so size+mtime polling is the dependable signal).
 * Files already imported with the same size and mtime (also before a restart, or by another sidecar
 * on a shared ledger watching the same glob) are skipped. Each file is read and parsed in a worker
 * thread, so a large export never stalls scrapes or ingestion.
 */
export function watchBillingFiles(
  db: LedgerStore,
  globs: string[],
  options: { intervalMs?: number; now?: () => number; onImport?: (r: BillingImportResult) => void } = {},
): BillingWatcher {
  // Files that could not be imported, by size:mtime, so a broken file is reported once per change.
  const refused = new Map<string, string>();
  let running: Promise<BillingImportResult[]> | undefined;
  const scanOnce = async (): Promise<BillingImportResult[]> => {
    const files = globs.length === 0 ? [] : await glob(globs, { absolute: true, onlyFiles: true });
    const results: BillingImportResult[] = [];
    for (const file of files.sort()) {
      const path = resolve(file);
      let stat: { size: number; mtimeMs: number };
      try {
        stat = statSync(path);
      } catch {
        continue; // vanished between glob and stat
      }
      const seen = await db.get<{ size_bytes: number; mtime_ms: number }>(
        'SELECT size_bytes, mtime_ms FROM billing_file WHERE path = ?',
        [path],
      );
      if (seen && seen.size_bytes === stat.size && seen.mtime_ms === Math.floor(stat.mtimeMs)) continue;
      const version = `${stat.size}:${Math.floor(stat.mtimeMs)}`;
      if (refused.get(path) === version) continue;
      const result = await importBillingFileOffThread(db, path, options.now?.() ?? Date.now());
      if (result.ok) refused.delete(path);
      else refused.set(path, version);
      results.push(result);
      options.onImport?.(result);
    }
    return results;
  };
  const scan = () => {
    running ??= scanOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void scan().catch(() => undefined), options.intervalMs ?? 10_000);
  timer.unref();
  return { scan, stop: () => clearInterval(timer) };
}
