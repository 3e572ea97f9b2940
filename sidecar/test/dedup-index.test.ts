/**
 * The in-memory dedup index against a plain model (a Map of key -> pending | committed second), over
 * long random sequences of claims, commits, rollbacks, expiry and a reload from the committed rows,
 * with enough keys to fill several segments.
 */
import { describe, expect, it } from 'vitest';
import { DedupIndex, HASH_BYTES, hashKey } from '../src/pipeline/dedupIndex.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

type ModelEntry = { pending: true } | { pending: false; sec: number };

describe('DedupIndex', () => {
  it('hashes keys to 96 bits that differ for near-identical keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i++) seen.add([...hashKey(`k-${i}`)].join(':'));
    expect(seen.size).toBe(200_000);
    expect([...hashKey('ab')]).not.toEqual([...hashKey('ba')]);
  });

  it('agrees with a model over random claims, commits, rollbacks, expiry and reloads', () => {
    const next = rng(7);
    const windowMs = 2_500_000;
    const index = new DedupIndex();
    const model = new Map<string, ModelEntry>();
    const committedRows: { seenMs: number; bytes: Buffer }[] = [];
    let open: string[] = [];
    let nowMs = 1_700_000_000_000;
    let claims = 0;
    const live = (e: ModelEntry | undefined) =>
      e !== undefined && (e.pending || e.sec >= Math.floor((nowMs - windowMs) / 1000));
    let reference = index;
    let maxSegments = 0;
    let maxFilterBits = 0;
    // Mismatches are collected and asserted once: an expect() per claim costs more than the claim.
    const mismatches: string[] = [];
    for (let step = 0; step < 4000; step++) {
      // Claims: mostly fresh keys (so segments fill), some repeats of recent and old ones.
      const n = 1 + next(200);
      for (let i = 0; i < n; i++) {
        const roll = next(10);
        const key =
          roll < 7 ? `fresh-${claims}` : `fresh-${Math.max(0, claims - 1 - next(roll < 9 ? 500 : 300_000))}`;
        claims++;
        const expected = !live(model.get(key));
        if (reference.claim(key, nowMs, windowMs) !== expected && mismatches.length < 10)
          mismatches.push(`step ${step}: claim(${key}) should be ${expected}`);
        if (expected) {
          model.set(key, { pending: true });
          open.push(key);
        }
      }
      if (next(3) === 0) {
        const keys = reference.takePending();
        if (keys.length !== open.length * HASH_BYTES && mismatches.length < 10)
          mismatches.push(`step ${step}: ${keys.length / HASH_BYTES} pending keys, model has ${open.length}`);
        if (next(20) === 0) {
          reference.rollback(keys);
          for (const k of open) model.delete(k);
        } else {
          reference.commit(keys, nowMs);
          committedRows.push({ seenMs: nowMs, bytes: keys });
          for (const k of open) model.set(k, { pending: false, sec: Math.floor(nowMs / 1000) });
        }
        open = [];
      }
      nowMs += next(2000);
      maxSegments = Math.max(maxSegments, reference.segmentCount);
      maxFilterBits = Math.max(maxFilterBits, reference.filterBits);
      // Now and then, a restart: a fresh index loaded from the committed rows (pending claims are lost
      // with the process, as in a crash).
      if (step % 1000 === 999) {
        for (const k of open) model.delete(k);
        open = [];
        reference.takePending();
        const fresh = new DedupIndex();
        for (const row of committedRows) fresh.loadCommitted(row.bytes, row.seenMs, nowMs, windowMs);
        reference = fresh;
      }
    }
    expect(mismatches).toEqual([]);
    expect(claims).toBeGreaterThan(300_000);
    expect(maxSegments).toBeGreaterThan(1);
    // The filter in front of the segments grew with the keys held (so it answered most claims).
    expect(maxFilterBits).toBeGreaterThan(1 << 20);
    // Expired segments were dropped: far fewer keys held than ever claimed.
    expect(reference.size).toBeLessThan(claims);
    // Bounded by its 4000 steps, not by time: ~1 s here; the budget holds on a machine 4x slower and busy.
  }, 120_000);
});
