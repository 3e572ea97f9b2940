import { describe, expect, it } from 'vitest';
import { randomHexId, randomUuid } from '../src/telemetry/randomIds.js';

// More ids than one fill of the pool holds (64 KiB), so the refill is crossed several times.
const N = 12_000;

describe('random ids (one pool from the system generator)', () => {
  it('usage ids are version 4 UUIDs in randomUUID’s form, all distinct', () => {
    const seen = new Set<string>();
    for (let i = 0; i < N; i++) {
      const id = randomUuid();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(N);
  });

  it('trace and span ids are lowercase hex of 16 and 8 bytes, all distinct, the bytes spread', () => {
    const traces = new Set<string>();
    const spans = new Set<string>();
    const nibbles = new Array<number>(16).fill(0);
    for (let i = 0; i < N; i++) {
      const t = randomHexId(16);
      const s = randomHexId(8);
      expect(t).toMatch(/^[0-9a-f]{32}$/);
      expect(s).toMatch(/^[0-9a-f]{16}$/);
      traces.add(t);
      spans.add(s);
      for (const c of t) nibbles[Number.parseInt(c, 16)] = (nibbles[Number.parseInt(c, 16)] ?? 0) + 1;
    }
    expect(traces.size).toBe(N);
    expect(spans.size).toBe(N);
    // 384,000 hex digits: each of the 16 values near 24,000 (a stuck or reused pool would not be).
    for (const n of nibbles) expect(Math.abs(n - (N * 32) / 16)).toBeLessThan(1_500);
  });

  it('ids drawn across a refill never repeat the previous fill’s bytes', () => {
    // 4,096 ids of 16 bytes are one fill's worth: the next 4,096 cross into a later fill.
    const before = new Set<string>();
    for (let i = 0; i < 4_096; i++) before.add(randomHexId(16));
    for (let i = 0; i < 4_096; i++) expect(before.has(randomHexId(16))).toBe(false);
  });
});
