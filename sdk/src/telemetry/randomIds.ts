import { randomFillSync } from 'node:crypto';

/**
 * Random bytes from the system's generator (`randomFillSync`, as `crypto.randomUUID` uses), drawn from a
 * pool filled 64 KiB at a time: a fill costs about 4 µs at any size up to a few KiB, 14 µs at 64 KiB.
 * A call takes 40 bytes (its usage id, trace id and span id), so one fill serves about 1,600 calls; pools
 * of 16 calls' worth (the span ids') and of 128 UUIDs (`randomUUID`'s own) cost 1.8 and 0.4 µs of CPU per
 * call in the benchmark's profile (docs/performance.md, session 17). Every byte is used once.
 */
const POOL_BYTES = 65536;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

/** The start of `bytes` unused random bytes in the pool. */
function take(bytes: number): number {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += bytes;
  return start;
}

/** `bytes` random bytes as lowercase hex, never all zero (an invalid trace or span id), as the tracer's generator makes them. */
export function randomHexId(bytes: 8 | 16): string {
  const start = take(bytes);
  let zero = true;
  for (let i = start; i < start + bytes; i++)
    if (pool[i] !== 0) {
      zero = false;
      break;
    }
  if (zero) pool[start + bytes - 1] = 1;
  return pool.toString('hex', start, start + bytes);
}

/** A random (version 4, RFC 9562) UUID in lowercase, as `crypto.randomUUID()` makes it. */
export function randomUuid(): string {
  const s = take(16);
  pool[s + 6] = ((pool[s + 6] as number) & 0x0f) | 0x40;
  pool[s + 8] = ((pool[s + 8] as number) & 0x3f) | 0x80;
  const h = pool.toString('hex', s, s + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
