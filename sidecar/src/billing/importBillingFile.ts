import type { LedgerDb } from '../ledger/openLedger.js';
import { type BillingExport, type BillingExportRefused, readBillingExport } from './readBillingExport.js';
import { readExportOffThread } from './readExportOffThread.js';
import type { BillingFormat } from './types.js';

export interface BillingImportSummary {
  ok: true;
  path: string;
  format: BillingFormat;
  /** Export rows read into billed amounts. */
  accepted: number;
  /** Valid rows that are not AI spend (other services, totals). */
  ignored: number;
  /** (provider, day, source) amounts written by this import. */
  daysWritten: number;
  /** (provider, day, source) amounts left alone because a newer export is already imported. */
  daysKeptNewer: number;
  /** True when the file's content was already imported: nothing changed. */
  unchanged: boolean;
}
/** Not imported: nothing was written; `rejections` lists every bad row when they are the reason. */
export type BillingImportResult = BillingImportSummary | BillingExportRefused;

/**
 * Imports one billing export into `billing_daily`. The file is a complete statement for each
 * (provider, UTC day, source) it mentions: its totals replace what an older export said, unless the
 * stored amount comes from a newer export (its `export_time`, else the file's mtime). Re-importing
 * identical content changes nothing. All-or-nothing: a file with any bad row writes nothing.
 */
export function importBillingFile(
  db: LedgerDb,
  file: string,
  nowMs: number = Date.now(),
): BillingImportResult {
  return storeBillingExport(db, readBillingExport(file), nowMs);
}

/** The same, with the file read and parsed in a worker thread (the `--billing` watcher). */
export async function importBillingFileOffThread(
  db: LedgerDb,
  file: string,
  nowMs: number = Date.now(),
): Promise<BillingImportResult> {
  return storeBillingExport(db, await readExportOffThread(file), nowMs);
}

/** Writes a read export in one transaction; a refused one writes nothing. */
export function storeBillingExport(
  db: LedgerDb,
  read: BillingExport | BillingExportRefused,
  nowMs: number,
): BillingImportResult {
  if (!read.ok) return read;
  const { path, format, version, totals, accepted } = read;
  const sha = read.sha256;
  const previous = db.prepare('SELECT file_sha256 FROM billing_file WHERE path = ?').get(path) as
    | { file_sha256: string }
    | undefined;
  const existing = db.prepare(
    'SELECT export_version, file_sha256 FROM billing_daily WHERE provider = ? AND day = ? AND source = ?',
  );
  const upsert = db.prepare(`
    INSERT INTO billing_daily (provider, day, source, cost_nano_usd, tokens_total, tokens_reported, line_count, export_version, file_path, file_sha256)
    VALUES (@provider, @day, @source, @costNano, @tokens, @tokensReported, @rows, @version, @path, @sha)
    ON CONFLICT (provider, day, source) DO UPDATE SET
      cost_nano_usd = excluded.cost_nano_usd, tokens_total = excluded.tokens_total,
      tokens_reported = excluded.tokens_reported, line_count = excluded.line_count,
      export_version = excluded.export_version, file_path = excluded.file_path, file_sha256 = excluded.file_sha256`);
  let daysWritten = 0;
  let daysKeptNewer = 0;
  db.transaction(() => {
    for (const t of totals) {
      const stored = existing.get(t.provider, t.day, t.source) as
        | { export_version: number; file_sha256: string }
        | undefined;
      if (stored && stored.export_version > version) {
        daysKeptNewer++;
        continue;
      }
      upsert.run({ ...t, tokensReported: t.tokensReported ? 1 : 0, version, path, sha });
      daysWritten++;
    }
    db.prepare(`
      INSERT INTO billing_file (path, format, file_sha256, size_bytes, mtime_ms, export_version, rows_accepted, rows_rejected, rows_ignored, imported_at_ms)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (path) DO UPDATE SET format = excluded.format, file_sha256 = excluded.file_sha256,
        size_bytes = excluded.size_bytes, mtime_ms = excluded.mtime_ms, export_version = excluded.export_version,
        rows_accepted = excluded.rows_accepted, rows_rejected = excluded.rows_rejected,
        rows_ignored = excluded.rows_ignored, imported_at_ms = excluded.imported_at_ms`).run(
      path,
      format,
      sha,
      read.sizeBytes,
      read.mtimeMs,
      version,
      accepted,
      0,
      read.ignored,
      nowMs,
    );
    // An imported file has no rejected rows (all-or-nothing); clear what an older version recorded.
    db.prepare('DELETE FROM billing_rejection WHERE path = ?').run(path);
  })();
  return {
    ok: true,
    path,
    format,
    accepted,
    ignored: read.ignored,
    daysWritten,
    daysKeptNewer,
    unchanged: previous?.file_sha256 === sha,
  };
}
