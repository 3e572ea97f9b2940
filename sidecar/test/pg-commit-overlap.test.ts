/**
 * On a PostgreSQL ledger a sidecar counts its next batch while the previous one commits. Two sidecars
 * here read the same records (one file forwards, the other backwards) from a backlog in small batches,
 * so they meet in the middle: commits refused because the other sidecar committed some records first
 * while the next batch was already counted on top of them. Every record must be counted exactly once
 * across both, in the registries and in the ledger.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LedgerStore } from '../src/ledger/store.js';
import { freshDatabaseUrl } from './support/ledgerBackends.js';
import { generateUsageLines } from './support/otlpLines.js';
import {
  emptyTotals,
  ledgerTotals,
  registryTotals,
  runUntilCaughtUp,
  type Totals,
  tempDir,
  truthTotals,
} from './support/sidecarHarness.js';

const tmp = tempDir('spendline-overlap-');
afterAll(() => tmp.cleanup());

function add(a: Totals, b: Totals): Totals {
  const t = emptyTotals();
  t.requests = a.requests + b.requests;
  t.errors = a.errors + b.errors;
  for (const k of Object.keys(t.tokens) as (keyof Totals['tokens'])[])
    t.tokens[k] = a.tokens[k] + b.tokens[k];
  return t;
}

describe('counting the next batch while the previous one commits (PostgreSQL)', () => {
  it('two sidecars reading the same records from opposite ends count each exactly once', async () => {
    const g = generateUsageLines({ records: 6000, perLine: 20, seed: 77, withSessions: true, users: 40 });
    const forward = join(tmp.dir, 'a.json');
    const backward = join(tmp.dir, 'b.json');
    writeFileSync(forward, g.lines.map((l) => `${l}\n`).join(''));
    writeFileSync(
      backward,
      [...g.lines]
        .reverse()
        .map((l) => `${l}\n`)
        .join(''),
    );
    const url = await freshDatabaseUrl();
    // Small batches: a backlog of many, each one's commit in flight while the next is counted.
    const run = (file: string, id: string) =>
      runUntilCaughtUp(join(tmp.dir, `state-${id}`), {
        otlpGlobs: [file],
        batchBytes: 24 * 1024,
        ledgerUrl: url,
        sidecarId: id,
      });
    const [a, b] = await Promise.all([run(forward, 'a'), run(backward, 'b')]);
    const truth = truthTotals(g.truth);
    expect(add(registryTotals(a), registryTotals(b))).toEqual(truth);
    expect(await ledgerTotals(join(tmp.dir, 'state-a'), url)).toEqual(truth);
    // The race did happen: commits were refused and counted again.
    const recounts = async (m: typeof a) => (await m.gauges.recounts.get()).values[0]?.value ?? 0;
    expect((await recounts(a)) + (await recounts(b))).toBeGreaterThan(0);
    // Both did part of the work.
    expect(registryTotals(a).requests).toBeGreaterThan(0);
    expect(registryTotals(b).requests).toBeGreaterThan(0);
  }, 120_000);

  /**
   * The ledger store, with the n-th batch commits failing as a dropped connection would (the driver's
   * own message): after PostgreSQL committed, or before.
   */
  function dropping(db: LedgerStore, failures: Map<number, 'after' | 'before'>): LedgerStore {
    const store: LedgerStore = Object.create(db);
    let n = 0;
    store.commitBatch = async (ops, claim) => {
      const when = failures.get(++n);
      if (when === 'before') throw new Error('Connection terminated unexpectedly');
      const r = await db.commitBatch(ops, claim);
      if (when === 'after') throw new Error('Connection terminated unexpectedly');
      return r;
    };
    return store;
  }

  it('settles an in-flight commit whose connection dropped, and counts the batch counted meanwhile again', async () => {
    const g = generateUsageLines({ records: 3000, perLine: 20, seed: 78, withSessions: true, users: 30 });
    const file = join(tmp.dir, 'doubt.json');
    writeFileSync(file, g.lines.map((l) => `${l}\n`).join(''));
    const url = await freshDatabaseUrl();
    const stateDir = join(tmp.dir, 'state-doubt');
    const metrics = await runUntilCaughtUp(stateDir, {
      otlpGlobs: [file],
      batchBytes: 16 * 1024,
      ledgerUrl: url,
      sidecarId: 'doubt',
      wrapStore: (db) =>
        dropping(
          db,
          new Map([
            [3, 'after'],
            [6, 'before'],
          ]),
        ),
    });
    const truth = truthTotals(g.truth);
    expect(registryTotals(metrics)).toEqual(truth);
    expect(await ledgerTotals(stateDir, url)).toEqual(truth);
    // Both failures were met (the loop waited for the ledger, then went on).
    expect(Number((await metrics.gauges.batches.get()).values[0]?.value)).toBeGreaterThan(6);
  }, 120_000);
});
