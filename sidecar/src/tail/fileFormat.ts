import type { UnreadableReason } from './types.js';

/** Bytes of a file's start that `formatOf` looks at. */
export const FORMAT_HEAD_BYTES = 8;

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC = [0x1f, 0x8b];

function startsWith(head: ArrayLike<number>, at: number, magic: readonly number[]): boolean {
  return magic.every((b, i) => head[at + i] === b);
}

export type FileFormat =
  | { binary: false }
  | { binary: true; reason: Extract<UnreadableReason, 'proto' | 'zstd' | 'gzip' | 'utf16'>; detail: string };

/**
 * Whether a file's first bytes are one of the binary encodings the collector's file exporter can be
 * configured to write, which the sidecar cannot count: `compression: zstd` (one zstd stream with the
 * exporter's native compression, else each message a 4-byte big-endian length and a zstd frame),
 * `format: proto` (each message a 4-byte length and an OTLP protobuf request, whose first byte is
 * field 1's tag, 0x0A), gzip, or UTF-16 text (Windows PowerShell 5's default file encoding: every line
 * would fail as JSON). JSON text starts with `{`, `[`, whitespace or a BOM, never with a
 * control byte. Null while too few bytes are written to tell.
 */
export function formatOf(head: Uint8Array): FileFormat | null {
  const hex = () => Buffer.from(head.subarray(0, FORMAT_HEAD_BYTES)).toString('hex');
  const first = head[0];
  if (first === undefined) return null;
  if (head.length < ZSTD_MAGIC.length && startsWith(ZSTD_MAGIC, 0, [...head])) return null;
  if (startsWith(head, 0, ZSTD_MAGIC))
    return { binary: true, reason: 'zstd', detail: `a zstd stream (first bytes ${hex()})` };
  if (head.length < 2 && (first === 0xff || first === 0xfe)) return null;
  if ((first === 0xff && head[1] === 0xfe) || (first === 0xfe && head[1] === 0xff))
    return { binary: true, reason: 'utf16', detail: `UTF-16 text (byte order mark ${hex().slice(0, 4)})` };
  if (first >= 0x20 || first === 0x09 || first === 0x0a || first === 0x0d) return { binary: false };
  if (head.length < FORMAT_HEAD_BYTES) return null;
  if (startsWith(head, 0, GZIP_MAGIC))
    return { binary: true, reason: 'gzip', detail: `gzip (first bytes ${hex()})` };
  if (startsWith(head, 4, ZSTD_MAGIC))
    return { binary: true, reason: 'zstd', detail: `length-prefixed zstd frames (first bytes ${hex()})` };
  if (Buffer.from(head.subarray(0, 4)).readUInt32BE(0) > 0 && head[4] === 0x0a)
    return { binary: true, reason: 'proto', detail: `length-prefixed OTLP protobuf (first bytes ${hex()})` };
  // Some other control byte first (a hole of NULs left by a truncation under a writer): read as text,
  // the decoder says what is wrong with each line.
  return { binary: false };
}
