import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { detectAndParseExport } from './detectFormat.js';
import type { BillingFormat, BillingRejection } from './types.js';

/** Largest export read (V8 strings stop near 512 MiB); a bigger file is refused with this reason. */
export const MAX_BILLING_FILE_BYTES = 512 * 1024 * 1024;

/** Billed totals of one (provider, UTC day, source) in an export. */
export interface DayTotal {
  provider: string;
  day: string;
  source: string;
  costNano: number;
  tokens: number;
  /** Every line of the day carried a token total. */
  tokensReported: boolean;
  rows: number;
}

/** An export read and checked, ready to store; plain data (it crosses a worker boundary). */
export interface BillingExport {
  ok: true;
  path: string;
  format: BillingFormat;
  sha256: string;
  sizeBytes: number;
  mtimeMs: number;
  /** The export's own time, else the file's mtime: a newer version replaces an older one. */
  version: number;
  totals: DayTotal[];
  /** Export rows read into billed amounts. */
  accepted: number;
  /** Valid rows that are not AI spend (other services, totals). */
  ignored: number;
}

/** A file that is not imported at all; `rejections` lists every bad row when that is the reason. */
export interface BillingExportRefused {
  ok: false;
  path: string;
  reason: string;
  rejections?: BillingRejection[];
}

function lineOf(location: string): number {
  const m = /^line (\d+)$/.exec(location);
  return m ? Number(m[1]) : 0;
}

/**
 * Reads, recognises and parses one billing export, and sums it per (provider, day, source). No
 * ledger access: it runs in a worker thread for the `--billing` watcher. A file with any rejected
 * row is refused as a whole (an import is all-or-nothing), with every rejection listed.
 */
export function readBillingExport(file: string): BillingExport | BillingExportRefused {
  const path = resolve(file);
  let text: string;
  let stat: { size: number; mtimeMs: number };
  try {
    const st = statSync(path);
    // A FIFO would block the read forever and a device (a link to /dev/zero) never end: both have size 0.
    if (!st.isFile()) return { ok: false, path, reason: 'not a regular file' };
    stat = st;
    if (stat.size > MAX_BILLING_FILE_BYTES) {
      return {
        ok: false,
        path,
        reason: `file is ${stat.size} bytes, more than the ${MAX_BILLING_FILE_BYTES}-byte limit: split the export`,
      };
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, path, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const sha256 = createHash('sha256').update(text).digest('hex');
  const detected = detectAndParseExport(text);
  if (!detected.ok) return { ok: false, path, reason: detected.reason };
  const { parsed, format } = detected;
  if (parsed.rejections.length > 0) {
    const rejections = [...parsed.rejections].sort((a, b) => lineOf(a.location) - lineOf(b.location));
    return {
      ok: false,
      path,
      reason: `${format}: ${rejections.length} row(s) rejected, so nothing from this file is imported (all-or-nothing per file); fix or remove them and import again`,
      rejections,
    };
  }
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
  return {
    ok: true,
    path,
    format,
    sha256,
    sizeBytes: stat.size,
    mtimeMs: Math.floor(stat.mtimeMs),
    version: Math.floor(parsed.exportTimeMs ?? stat.mtimeMs),
    totals: [...totals.values()],
    accepted,
    ignored: parsed.ignored,
  };
}
