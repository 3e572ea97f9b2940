import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LedgerDb } from '../ledger/openLedger.js';
import { detectAndParseExport } from './detectFormat.js';
import type { BillingFormat, BillingRejection } from './types.js';

export interface BillingImportSummary {
  ok: true;
  path: string;
  format: BillingFormat;
  /** Export rows read into billed amounts. */
  accepted: number;
  rejected: number;
  /** Valid rows that are not AI spend (other services, totals). */
  ignored: number;
  rejections: BillingRejection[];
  /** (provider, day, source) amounts written by this import. */
  daysWritten: number;
  /** (provider, day, source) amounts left alone because a newer export is already imported. */
  daysKeptNewer: number;
  /** True when the file's content was already imported: nothing changed. */
  unchanged: boolean;
}
export type BillingImportResult = BillingImportSummary | { ok: false; path: string; reason: string };

function lineOf(location: string): number {
  const m = /^line (\d+)$/.exec(location);
  return m ? Number(m[1]) : 0;
}

interface DayTotal {
  provider: string;
  day: string;
  source: string;
  costNano: number;
  tokens: number;
  /** Every line of the day carried a token total. */
  tokensReported: boolean;
  rows: number;
}

/**
 * Imports one billing export into `billing_daily`. The file is a complete statement for each
 * (provider, UTC day, source) it mentions: its totals replace what an older export said, unless the
 * stored amount comes from a newer export (its `export_time`, else the file's mtime). Re-importing
 * identical content changes nothing. Bad rows are kept as rejections; the good rows still count.
 */
export function importBillingFile(
  db: LedgerDb,
  file: string,
  nowMs: number = Date.now(),
): BillingImportResult {
  const path = resolve(file);
  let text: string;
  let stat: { size: number; mtimeMs: number };
  try {
    text = readFileSync(path, 'utf8');
    stat = statSync(path);
  } catch (err) {
    return { ok: false, path, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const sha = createHash('sha256').update(text).digest('hex');
  const detected = detectAndParseExport(text);
  if (!detected.ok) return { ok: false, path, reason: detected.reason };
  const { parsed, format } = detected;
  parsed.rejections.sort((a, b) => lineOf(a.location) - lineOf(b.location)); // stable: JSON paths keep their order
  const version = Math.floor(parsed.exportTimeMs ?? stat.mtimeMs);

  const totals = new Map<string, DayTotal>();
  let accepted = 0;
  for (const line of parsed.lines) {
    const key = `${line.provider}\u0000${line.day}\u0000${line.source}`;
    const rows = line.rows ?? 1;
    accepted += rows;
    const t = totals.get(key);
    if (t) {
      t.costNano += line.costNano;
      t.tokens += line.tokens;
      t.tokensReported &&= line.tokensReported === true;
      t.rows += rows;
    } else totals.set(key, { ...line, tokensReported: line.tokensReported === true, rows });
  }

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
    for (const t of totals.values()) {
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
      stat.size,
      Math.floor(stat.mtimeMs),
      version,
      accepted,
      parsed.rejections.length,
      parsed.ignored,
      nowMs,
    );
    db.prepare('DELETE FROM billing_rejection WHERE path = ?').run(path);
    const reject = db.prepare('INSERT INTO billing_rejection (path, location, reason) VALUES (?, ?, ?)');
    for (const r of parsed.rejections) reject.run(path, r.location, r.reason);
  })();
  return {
    ok: true,
    path,
    format,
    accepted,
    rejected: parsed.rejections.length,
    ignored: parsed.ignored,
    rejections: parsed.rejections,
    daysWritten,
    daysKeptNewer,
    unchanged: previous?.file_sha256 === sha,
  };
}
