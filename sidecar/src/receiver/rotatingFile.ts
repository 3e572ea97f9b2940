import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

export interface RotatingFileOptions {
  path: string;
  /** Rotate when the file would grow past this many bytes (collector: `rotation.max_megabytes`). */
  maxBytes: number;
  /** Rotated backups kept; older ones are deleted (collector: `rotation.max_backups`). 0 keeps all. */
  maxBackups: number;
  /** Injectable clock for backup names. */
  now?: () => Date;
  /** Injectable `fs.writeSync` (tests simulate a full disk with it). */
  writeSync?: (fd: number, buffer: Buffer, offset: number) => number;
}

/**
 * Appends whole lines to a file and rotates it the way the collector's file exporter does (lumberjack):
 * the full file is renamed to `<name>-<YYYY-MM-DDTHH-MM-SS.mmm>.<ext>` (UTC) beside it and a new file
 * starts at the same path. Appends are synchronous writes of complete lines, so lines never interleave
 * and a reader never sees a line split across a rotation.
 */
export class RotatingFile {
  private fd: number;
  /** Bytes of complete lines in the file: a failed append is truncated back to this. */
  private size: number;
  /** A failed append could not be truncated away yet: the next append truncates first. */
  private torn = false;
  private readonly now: () => Date;
  private readonly write: (fd: number, buffer: Buffer, offset: number) => number;

  constructor(private readonly options: RotatingFileOptions) {
    this.now = options.now ?? (() => new Date());
    this.write = options.writeSync ?? ((fd, buffer, offset) => writeSync(fd, buffer, offset));
    this.fd = openSync(options.path, 'a');
    this.size = statSync(options.path).size;
  }

  /** Appends one line (a newline is added). */
  appendLine(line: string): void {
    this.appendLines([line]);
  }

  /**
   * Appends lines (newlines added) all or nothing: if a write fails (disk full, I/O error), the file
   * is truncated back to its last complete line and this throws, so a reader never sees a fragment
   * that the next line would be glued to.
   */
  appendLines(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const data = Buffer.from(`${lines.join('\n')}\n`);
    if (this.torn) this.truncateToComplete();
    if (this.size > 0 && this.size + data.length > this.options.maxBytes) this.rotate();
    let written = 0;
    try {
      while (written < data.length) written += this.write(this.fd, data, written);
    } catch (err) {
      this.torn = true;
      try {
        this.truncateToComplete();
      } catch {
        // Still torn: the next append truncates first (and fails until it can).
      }
      throw err;
    }
    this.size += data.length;
  }

  private truncateToComplete(): void {
    ftruncateSync(this.fd, this.size);
    this.torn = false;
  }

  /** Flushes to disk (called on shutdown). */
  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
  }

  private rotate(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.options.path, this.backupPath());
    this.fd = openSync(this.options.path, 'a');
    this.size = 0;
    this.pruneBackups();
  }

  private backupPath(): string {
    const ext = extname(this.options.path);
    const name = basename(this.options.path, ext);
    const stamp = this.now().toISOString().replace(/:/g, '-').replace(/Z$/, '');
    let candidate = join(dirname(this.options.path), `${name}-${stamp}${ext}`);
    // Two rotations in the same millisecond: lumberjack would overwrite; we never lose a backup.
    for (let i = 1; exists(candidate); i++)
      candidate = join(dirname(this.options.path), `${name}-${stamp}-${i}${ext}`);
    return candidate;
  }

  private pruneBackups(): void {
    if (this.options.maxBackups <= 0) return;
    const backups = listBackups(this.options.path);
    for (const old of backups.slice(0, Math.max(0, backups.length - this.options.maxBackups))) {
      rmSync(old, { force: true });
    }
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Rotated backups of `path`, oldest first (names sort by their UTC timestamp). */
export function listBackups(path: string): string[] {
  const ext = extname(path);
  const name = basename(path, ext);
  const prefix = `${name}-`;
  return readdirSync(dirname(path))
    .filter(
      (f) => f.startsWith(prefix) && f.endsWith(ext) && /^\d{4}-\d{2}-\d{2}T/.test(f.slice(prefix.length)),
    )
    .sort()
    .map((f) => join(dirname(path), f));
}
