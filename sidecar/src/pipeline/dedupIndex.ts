/**
 * Dedup keys of counted records, in memory, for the dedup window.
 *
 * Each key is reduced to a 96-bit hash (three 32-bit lanes of one pass over the key's UTF-16 code
 * units, then cross-mixed). Two distinct keys are confused with probability about n² / 2^97: for ten
 * million keys inside one window, about 6e-16. The table is open addressing with linear probing in one
 * Uint32Array (four words per slot: three hash lanes and a stamp: the second the key was committed),
 * so no per-key JS object. The table is a list of segments: only the newest grows (by rebuilding, up
 * to 4 MiB, so a rebuild is never long); then a new segment starts, and a segment whose keys have all
 * expired is dropped whole. A million keys cost about 28 MiB (29 with the filter below). Expiry has
 * one-second granularity: a key stays a duplicate for at least the window and at most one second longer.
 *
 * Keys claimed by the batch being counted are *pending*: they count as seen (so a duplicate later in
 * the same batch is caught) but become committed only with the batch (`takePending`, then `commit`),
 * or are forgotten if the batch's transaction fails (`rollback`). The batch's hashes, packed as
 * little-endian bytes, are what the ledger stores, one row per batch.
 *
 * A new key (almost every key) is absent from every segment, and finding that out costs a probe of
 * each: one cache miss per 4 MiB segment, seven at a million keys. A filter in front (two bits a key,
 * from hash lanes b and c, in a bit array of 4 to 8 bits per key held: 1 MiB at a million keys) answers
 * "not held" for 85-95 % of new keys with one lookup. It only ever errs towards "maybe held" (then the segments are probed as
 * before): every key put into a segment is added, and it is rebuilt from the segments when segments are
 * dropped (so expired keys leave it) or when it grows.
 */

const EMPTY = 0;
/** Pending (claimed by the uncommitted batch). */
const PENDING = 0xffffffff;
/** A slot whose key was rolled back or expired: skipped by lookups, reusable by inserts. */
const DEAD = 1;
/** Stamps of committed keys are whole seconds plus this offset (so second 0 is not EMPTY or DEAD). */
const STAMP_OFFSET = 2;
const MIN_SEGMENT_SLOTS = 1 << 12;
/** Segments grow (by rebuilding) up to this many slots (4 MiB); then a new segment starts. */
const MAX_SEGMENT_SLOTS = 1 << 18;
/** Load factor at which a segment grows or is closed: keeps probe sequences short. */
const MAX_LOAD = 0.6;
/** Bytes per hash in `takePending`'s bytes and in the ledger's dedup_batch.hashes. */
export const HASH_BYTES = 12;

const h = new Uint32Array(3);
/** The filter's smallest size in bits (128 KiB). Rebuilt at 8 bits a key, it grows again past one key per 4 bits. */
const MIN_FILTER_BITS = 1 << 20;
const FILTER_BITS_PER_KEY = 4;

/** The 96-bit hash of a key, into `out` (lanes 0..2). Exported for tests and the ledger migration. */
export function hashKey(key: string, out: Uint32Array = h): Uint32Array {
  let a = 0x811c9dc5 ^ key.length;
  let b = 0x9e3779b9;
  let c = 0x85ebca6b;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    a = Math.imul(a ^ ch, 0x01000193);
    b = Math.imul(b ^ ch, 0x5bd1e995);
    c = Math.imul(c ^ ch, 0x27d4eb2f);
  }
  // Finalise each lane (murmur3 fmix32) after mixing in the others, so every output bit depends on all.
  a = fmix(a ^ Math.imul(c, 0xcc9e2d51));
  b = fmix(b ^ a);
  c = fmix(c ^ b);
  a = fmix(a ^ c);
  out[0] = a;
  out[1] = b;
  out[2] = c;
  return out;
}

function stampOf(ms: number): number {
  return Math.max(Math.floor(ms / 1000) + STAMP_OFFSET, STAMP_OFFSET);
}

function fmix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** One open-addressing table (linear probing); four words per slot: hash lanes a, b, c and stamp. */
class Segment {
  slots: Uint32Array;
  mask: number;
  /** Slots not EMPTY. */
  used = 0;
  /** Keys claimed but not yet committed or rolled back. */
  pending = 0;
  /** Newest commit stamp of any key here. */
  newestStamp = 0;

  constructor(capacity: number) {
    this.slots = new Uint32Array(capacity * 4);
    this.mask = capacity - 1;
  }

  get capacity(): number {
    return this.mask + 1;
  }

  /** The slot offset holding the key (any stamp), or -1. */
  find(a: number, b: number, c: number): number {
    const s = this.slots;
    for (let i = a & this.mask; ; i = (i + 1) & this.mask) {
      const at = i * 4;
      if (s[at + 3] === EMPTY) return -1;
      if (s[at] === a && s[at + 1] === b && s[at + 2] === c) return at;
    }
  }

  /** Puts the key with `stamp`, reusing its own slot if present (the caller checked it is not live). */
  put(a: number, b: number, c: number, stamp: number): void {
    let at = this.find(a, b, c);
    if (at < 0) {
      let i = a & this.mask;
      while (this.slots[i * 4 + 3] !== EMPTY) i = (i + 1) & this.mask;
      at = i * 4;
      this.used++;
    } else if (this.slots[at + 3] === PENDING) this.pending--;
    this.slots[at] = a;
    this.slots[at + 1] = b;
    this.slots[at + 2] = c;
    this.slots[at + 3] = stamp;
    if (stamp === PENDING) this.pending++;
    else if (stamp > this.newestStamp) this.newestStamp = stamp;
  }

  /** A copy with `capacity` slots holding only pending and unexpired keys. */
  rebuilt(capacity: number, cutoff: number): Segment {
    const next = new Segment(capacity);
    const old = this.slots;
    for (let at = 0; at < old.length; at += 4) {
      const t = old[at + 3] as number;
      if (t === PENDING || (t !== EMPTY && t !== DEAD && t >= cutoff))
        next.put(old[at] as number, old[at + 1] as number, old[at + 2] as number, t);
    }
    return next;
  }
}

const isLive = (t: number, cutoff: number) => t === PENDING || (t !== EMPTY && t !== DEAD && t >= cutoff);

export class DedupIndex {
  /** Oldest first; only the last one takes new keys. */
  private segments: Segment[] = [new Segment(MIN_SEGMENT_SLOTS)];
  private pending = new Uint32Array(3 * 1024);
  private pendingCount = 0;
  /** The filter: bit array (32 bits a word), its bit mask, and the keys added since it was built. */
  private filter = new Uint32Array(MIN_FILTER_BITS / 32);
  private filterMask = MIN_FILTER_BITS - 1;
  private filterKeys = 0;

  /** The filter's size in bits (tests, diagnostics). */
  get filterBits(): number {
    return this.filterMask + 1;
  }

  /** Keys (committed or pending) currently held, including expired ones not yet dropped. */
  get size(): number {
    let n = 0;
    for (const seg of this.segments) n += seg.used;
    return n;
  }

  /** Segments in use (tests, diagnostics). */
  get segmentCount(): number {
    return this.segments.length;
  }

  /**
   * Claims a key for the batch being counted: true when it is new (not committed within `windowMs`
   * before `nowMs`, not pending), false for a duplicate.
   */
  claim(key: string, nowMs: number, windowMs: number): boolean {
    const k = hashKey(key);
    const a = k[0] as number;
    const b = k[1] as number;
    const c = k[2] as number;
    const cutoff = stampOf(nowMs - windowMs);
    if (this.mayHold(b, c) && this.isLive(a, b, c, cutoff)) return false;
    this.newest(cutoff).put(a, b, c, PENDING);
    this.addToFilter(b, c);
    this.pushPending(a, b, c);
    return true;
  }

  /** False when no segment holds a key with these lanes; true when one may. */
  private mayHold(b: number, c: number): boolean {
    const f = this.filter;
    const x = b & this.filterMask;
    const y = c & this.filterMask;
    return (
      ((f[x >>> 5] as number) & (1 << (x & 31))) !== 0 && ((f[y >>> 5] as number) & (1 << (y & 31))) !== 0
    );
  }

  private addToFilter(b: number, c: number): void {
    const x = b & this.filterMask;
    const y = c & this.filterMask;
    this.filter[x >>> 5] = (this.filter[x >>> 5] as number) | (1 << (x & 31));
    this.filter[y >>> 5] = (this.filter[y >>> 5] as number) | (1 << (y & 31));
    if (++this.filterKeys * FILTER_BITS_PER_KEY > this.filterMask + 1) this.rebuildFilter();
  }

  /** The filter anew from the keys the segments hold, sized for them (expired keys not yet dropped too). */
  private rebuildFilter(): void {
    let keys = 0;
    for (const seg of this.segments) keys += seg.used;
    let bits = MIN_FILTER_BITS;
    while (bits < keys * FILTER_BITS_PER_KEY * 2) bits *= 2;
    const f = bits === this.filterMask + 1 ? this.filter.fill(0) : new Uint32Array(bits / 32);
    const mask = bits - 1;
    for (const seg of this.segments) {
      const slots = seg.slots;
      for (let at = 0; at < slots.length; at += 4) {
        const t = slots[at + 3] as number;
        if (t === EMPTY || t === DEAD) continue;
        const x = (slots[at + 1] as number) & mask;
        const y = (slots[at + 2] as number) & mask;
        f[x >>> 5] = (f[x >>> 5] as number) | (1 << (x & 31));
        f[y >>> 5] = (f[y >>> 5] as number) | (1 << (y & 31));
      }
    }
    this.filter = f;
    this.filterMask = mask;
    this.filterKeys = keys;
  }

  private isLive(a: number, b: number, c: number, cutoff: number): boolean {
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const seg = this.segments[i] as Segment;
      const at = seg.find(a, b, c);
      if (at >= 0 && isLive(seg.slots[at + 3] as number, cutoff)) return true;
    }
    return false;
  }

  /** The segment new keys go to, with room for one more. */
  private newest(cutoff: number): Segment {
    const last = this.segments.length - 1;
    const seg = this.segments[last] as Segment;
    if (seg.used + 1 <= seg.capacity * MAX_LOAD) return seg;
    let live = 0;
    for (let at = 3; at < seg.slots.length; at += 4) if (isLive(seg.slots[at] as number, cutoff)) live++;
    // Grow (or compact) it while that leaves it at most half full; past the largest size, close it.
    let capacity = seg.capacity;
    while (capacity < MAX_SEGMENT_SLOTS && live + 1 > capacity * MAX_LOAD * 0.5) capacity *= 2;
    if (live + 1 <= capacity * MAX_LOAD * 0.5 || capacity > seg.capacity) {
      this.segments[last] = seg.rebuilt(capacity, cutoff);
    } else {
      // Segments whose keys have all expired (and none pending) go; a new segment starts.
      const before = this.segments.length;
      this.segments = this.segments.filter((s) => s === seg || s.pending > 0 || s.newestStamp >= cutoff);
      this.segments.push(new Segment(MIN_SEGMENT_SLOTS));
      if (this.segments.length <= before) this.rebuildFilter();
    }
    return this.segments[this.segments.length - 1] as Segment;
  }

  private pushPending(a: number, b: number, c: number): void {
    if ((this.pendingCount + 1) * 3 > this.pending.length) {
      const grown = new Uint32Array(this.pending.length * 2);
      grown.set(this.pending);
      this.pending = grown;
    }
    const p = this.pendingCount * 3;
    this.pending[p] = a;
    this.pending[p + 1] = b;
    this.pending[p + 2] = c;
    this.pendingCount++;
  }

  /**
   * Closes the batch's claims: returns their hashes as bytes (HASH_BYTES each, little-endian lanes;
   * what the ledger stores) and starts a new, empty pending list. The returned keys stay pending until
   * `commit` or `rollback` is called with them.
   */
  takePending(): Buffer {
    const out = Buffer.alloc(this.pendingCount * HASH_BYTES);
    for (let i = 0; i < this.pendingCount * 3; i++) out.writeUInt32LE(this.pending[i] as number, i * 4);
    this.pendingCount = 0;
    if (this.pending.length > 3 * 65536) this.pending = new Uint32Array(3 * 1024);
    return out;
  }

  /** The batch holding `keys` (from `takePending`) committed at `nowMs`: seen until they expire. */
  commit(keys: Uint8Array, nowMs: number): void {
    this.settle(keys, stampOf(nowMs));
  }

  /** The batch holding `keys` failed to commit: they were never counted. */
  rollback(keys: Uint8Array): void {
    this.settle(keys, DEAD);
  }

  private settle(keys: Uint8Array, stamp: number): void {
    const view = Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength);
    for (let o = 0; o + HASH_BYTES <= view.length; o += HASH_BYTES) {
      const a = view.readUInt32LE(o);
      const b = view.readUInt32LE(o + 4);
      const c = view.readUInt32LE(o + 8);
      for (let i = this.segments.length - 1; i >= 0; i--) {
        const seg = this.segments[i] as Segment;
        const at = seg.find(a, b, c);
        if (at >= 0 && seg.slots[at + 3] === PENDING) {
          seg.put(a, b, c, stamp);
          break;
        }
      }
    }
  }

  /** Loads keys committed at `seenMs` (from the ledger at start), as packed by `takePending`. */
  loadCommitted(bytes: Uint8Array, seenMs: number, nowMs: number, windowMs: number): void {
    const cutoff = stampOf(nowMs - windowMs);
    const stamp = stampOf(seenMs);
    if (stamp < cutoff) return;
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let o = 0; o + HASH_BYTES <= view.length; o += HASH_BYTES) {
      const a = view.readUInt32LE(o);
      const b = view.readUInt32LE(o + 4);
      const c = view.readUInt32LE(o + 8);
      // Rows are loaded oldest first; a key counted again after expiring keeps its newest stamp.
      const held = this.segments.find((seg) => {
        const at = seg.find(a, b, c);
        return at >= 0 && (seg.slots[at + 3] as number) > DEAD;
      });
      if (held === undefined) {
        this.newest(cutoff).put(a, b, c, stamp);
        this.addToFilter(b, c);
      } else if ((held.slots[held.find(a, b, c) + 3] as number) < stamp) held.put(a, b, c, stamp);
    }
  }
}
