import type { LedgerStore } from '../ledger/store.js';
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
export async function importBillingFile(
  db: LedgerStore,
  file: string,
  nowMs: number = Date.now(),
): Promise<BillingImportResult> {
  return storeBillingExport(db, readBillingExport(file), nowMs);
}

/** The same, with the file read and parsed in a worker thread (the `--billing` watcher). */
export async function importBillingFileOffThread(
  db: LedgerStore,
  file: string,
  nowMs: number = Date.now(),
): Promise<BillingImportResult> {
  return storeBillingExport(db, await readExportOffThread(file), nowMs);
}

/**
 * Provider-days per statement, largest first (10 parameters each: under SQLite's and PostgreSQL's
 * limits). A few fixed sizes, so the stores' statement caches hold a few texts, not one per length.
 */
const CHUNK_SIZES = [256, 64, 16, 4, 1];

/**
 * Upserts `rows` provider-days in one statement; a stored amount from a newer export is kept (the
 * update's WHERE), so the statement's change count is the number of days written.
 */
function upsertDays(rows: number): string {
  const tuple = '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
  return `
  INSERT INTO billing_daily (provider, day, source, cost_nano_usd, tokens_total, tokens_reported, line_count, export_version, file_path, file_sha256)
  VALUES ${Array.from({ length: rows }, () => tuple).join(', ')}
  ON CONFLICT (provider, day, source) DO UPDATE SET
    cost_nano_usd = excluded.cost_nano_usd, tokens_total = excluded.tokens_total,
    tokens_reported = excluded.tokens_reported, line_count = excluded.line_count,
    export_version = excluded.export_version, file_path = excluded.file_path, file_sha256 = excluded.file_sha256
  WHERE billing_daily.export_version <= excluded.export_version`;
}
const UPSERT_DAYS = new Map(CHUNK_SIZES.map((rows) => [rows, upsertDays(rows)]));

const UPSERT_FILE = `
  INSERT INTO billing_file (path, format, file_sha256, size_bytes, mtime_ms, export_version, rows_accepted, rows_rejected, rows_ignored, imported_at_ms)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (path) DO UPDATE SET format = excluded.format, file_sha256 = excluded.file_sha256,
    size_bytes = excluded.size_bytes, mtime_ms = excluded.mtime_ms, export_version = excluded.export_version,
    rows_accepted = excluded.rows_accepted, rows_rejected = excluded.rows_rejected,
    rows_ignored = excluded.rows_ignored, imported_at_ms = excluded.imported_at_ms`;

/**
 * Writes a read export in ONE transaction; a refused one writes nothing. Sidecars sharing a
 * PostgreSQL ledger may import the same file at once (they watch the same glob): the transaction
 * first takes a lock named after the file, so the second import starts after the first committed,
 * sees its rows and writes the same amounts again (one copy, `unchanged`). Days are written in key
 * order, many per statement, so imports of different files that share a day lock its row in the same
 * order.
 */
export async function storeBillingExport(
  db: LedgerStore,
  read: BillingExport | BillingExportRefused,
  nowMs: number,
): Promise<BillingImportResult> {
  if (!read.ok) return read;
  const { path, format, version, accepted } = read;
  const sha = read.sha256;
  const totals = [...read.totals].sort(
    (a, b) => cmp(a.provider, b.provider) || cmp(a.day, b.day) || cmp(a.source, b.source),
  );
  return db.transaction(async (tx): Promise<BillingImportSummary> => {
    await tx.lock(`billing file ${path}`);
    const previous = await tx.value<string>('SELECT file_sha256 FROM billing_file WHERE path = ?', [path]);
    let daysWritten = 0;
    let daysKeptNewer = 0;
    for (let i = 0; i < totals.length; ) {
      const size = CHUNK_SIZES.find((n) => n <= totals.length - i) ?? 1;
      const chunk = totals.slice(i, i + size);
      i += size;
      const args = chunk.flatMap((t) => [
        t.provider,
        t.day,
        t.source,
        t.costNano,
        t.tokens,
        t.tokensReported ? 1 : 0,
        t.rows,
        version,
        path,
        sha,
      ]);
      const written = await tx.run(UPSERT_DAYS.get(size) ?? upsertDays(size), args);
      daysWritten += written;
      daysKeptNewer += chunk.length - written;
    }
    await tx.run(UPSERT_FILE, [
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
    ]);
    // An imported file has no rejected rows (all-or-nothing); clear what an older version recorded.
    await tx.run('DELETE FROM billing_rejection WHERE path = ?', [path]);
    return {
      ok: true,
      path,
      format,
      accepted,
      ignored: read.ignored,
      daysWritten,
      daysKeptNewer,
      unchanged: previous === sha,
    };
  });
}

/** Code-unit order (the same on every machine and backend, unlike a collation). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
