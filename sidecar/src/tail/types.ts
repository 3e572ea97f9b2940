/**
 * The tailer's contract with the ingest loop. The tailer yields only complete lines; the ingest loop
 * commits the decoded records together with `checkpoints` in one ledger transaction, so a crash at any
 * instant resumes from the last committed positions: nothing lost, nothing counted twice.
 */

/** Where reading of one file stands. Identity = device + inode + hash of the first complete line. */
export interface FileCheckpoint {
  /** Stable identity key: `${dev}:${ino}:${fingerprint}`. */
  key: string;
  /** Path the file was last seen at (informational: files are matched by identity, not path). */
  path: string;
  dev: number;
  ino: number;
  /** Hash of the first complete line ('' until the file has one; then offset is 0). */
  fingerprint: string;
  /** Byte offset just past the last consumed complete line. */
  offset: number;
  /** Which decoder its lines go to. */
  kind: 'otlp' | 'jsonl';
}

export interface TailLine {
  /** The line without its trailing newline (and without a trailing `\r`). */
  text: string;
  kind: 'otlp' | 'jsonl';
  path: string;
  /** Offset just past this line's newline in its file. */
  endOffset: number;
}

export interface OversizedLine {
  path: string;
  kind: 'otlp' | 'jsonl';
  /** Offset where the skipped line starts, and its length in bytes (newline excluded). */
  offset: number;
  bytes: number;
  /** OTLP signal of the line, when its top-level key was seen. */
  signal?: 'logs' | 'spans' | undefined;
  /** Records the line held (OTLP: counted by a streaming scan, at least 1; JSONL: 1). */
  records?: number;
}

export interface TailBatch {
  lines: TailLine[];
  /** Lines longer than the maximum: skipped (never buffered whole) and to be counted as rejected. */
  oversized: OversizedLine[];
  /**
   * The full set of checkpoints after this batch (every file still tracked). Persist it atomically with
   * the batch's effects; files that disappeared and were fully read are no longer in it.
   */
  checkpoints: FileCheckpoint[];
  /** Bytes not yet consumed per tracked path (for spendline_unread_bytes). */
  unreadBytes: Record<string, number>;
  /** True when every tracked file has been read to its last complete line. */
  caughtUp: boolean;
  /**
   * Bytes that can never be read, found since the previous poll: the unread rest of files deleted (or
   * moved away from every watched name) or truncated before being read to their end
   * (spendline_lost_bytes_total).
   */
  lost: Record<LostReason, number>;
  /**
   * Files matched but not read, with why (a binary export, no permission, an I/O error): every one
   * that is so at this poll. Their bytes are not in `unreadBytes`.
   */
  unreadable: UnreadableFile[];
}

export type LostReason = 'deleted' | 'truncated';

/**
 * Why a matched file is not read: the collector's binary exports (`format: proto`, `compression:
 * zstd`, which it writes length-prefixed or, with its native compression, as one zstd stream), a
 * gzip file, UTF-16 text (a byte order mark FF FE or FE FF), no read permission, too many open files, or another I/O error.
 */
export type UnreadableReason =
  | 'proto'
  | 'zstd'
  | 'gzip'
  | 'utf16'
  | 'permission_denied'
  | 'too_many_open_files'
  | 'io_error';

export interface UnreadableFile {
  path: string;
  reason: UnreadableReason;
  /** What was found (the file's first bytes, or the error's code), for the log. */
  detail: string;
  /** The file's size when last seen (bytes not counted). */
  bytes: number;
}

export interface TailerOptions {
  otlpGlobs: string[];
  jsonlGlobs: string[];
  /** Lines over this many bytes are skipped and reported in `oversized`. */
  maxLineBytes: number;
  /** Checkpoints loaded from the ledger at start ([] on first start). */
  checkpoints: FileCheckpoint[];
  /**
   * While reading a backlog (the previous poll stopped at its byte budget), list the globs and
   * directories again only this often (default 0: every poll). Tracked files are still re-stated on
   * every poll; only finding new files waits.
   */
  rediscoverMs?: number;
}

export interface Tailer {
  /**
   * Discovers files (globs, plus the collector's rotated backups `<name>-<timestamp>[-size].<ext>` beside
   * each match), detects rotation and truncation, and reads complete lines: at most about `maxBytes` of
   * line data (at least one line when any is available). Never throws for I/O races (a file deleted
   * mid-read is skipped); throws only for bugs.
   */
  poll(maxBytes: number): Promise<TailBatch>;
  /** Releases open file handles. */
  close(): Promise<void>;
}
