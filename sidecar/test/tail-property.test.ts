/**
 * Randomised write / partial write / rotate / truncate / delete / restart sequences against a model:
 * after every restart the counted records must be exactly the complete lines written so far.
 */
import { appendFileSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { generateUsageLines } from './support/otlpLines.js';
import {
  ledgerTotals,
  recordCounts,
  registryTotals,
  runUntilCaughtUp,
  tempDir,
} from './support/sidecarHarness.js';

const POOL = generateUsageLines({ records: 400, perLine: 1, seed: 99 }).lines;

type Op =
  | { op: 'append'; n: number }
  | { op: 'partial' }
  | { op: 'rotate' }
  | { op: 'truncate'; n: number }
  | { op: 'deleteBackups' }
  | { op: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 1, max: 8 }) }),
  fc.constant({ op: 'partial' as const }),
  fc.constant({ op: 'rotate' as const }),
  fc.record({ op: fc.constant('truncate' as const), n: fc.integer({ min: 0, max: 5 }) }),
  fc.constant({ op: 'deleteBackups' as const }),
  fc.constant({ op: 'restart' as const }),
);

describe.each(LEDGER_BACKENDS)('tailer against a model (%s)', (kind) => {
  it('counts exactly the complete lines written, across any sequence of file operations and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        const t = tempDir('spendline-prop-');
        try {
          const live = join(t.dir, 'genai.json');
          const state = join(t.dir, 'state');
          const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
          let next = 0;
          let complete = 0; // complete lines ever written (the model)
          let partial: string | undefined; // written bytes of an unfinished line in `live`
          let backups = 0;
          let readSinceChange = true; // the sidecar has caught up since the last write
          const take = () => POOL[next++ % POOL.length] as string;
          const finishPartial = () => {
            if (partial !== undefined) {
              appendFileSync(live, `${partial}\n`);
              partial = undefined;
              complete++;
            }
          };
          const restart = async () => {
            const m = await runUntilCaughtUp(state, { otlpGlobs: [live], batchBytes: 700, ledgerUrl });
            expect(registryTotals(m).requests).toBe(complete);
            expect(recordCounts(m).counted ?? 0).toBe(complete);
            readSinceChange = true;
          };
          for (const o of ops) {
            if (next + 20 > POOL.length) break;
            if (o.op === 'append') {
              finishPartial();
              const lines = Array.from({ length: o.n }, take);
              appendFileSync(live, lines.map((l) => `${l}\n`).join(''));
              complete += lines.length;
              readSinceChange = false;
            } else if (o.op === 'partial' && partial === undefined) {
              partial = take();
              appendFileSync(live, partial.slice(0, 50));
              partial = partial.slice(50);
              readSinceChange = false;
            } else if (o.op === 'rotate' && existsSync(live)) {
              finishPartial(); // the exporter only rotates after a complete write
              renameSync(
                live,
                join(t.dir, `genai-2026-01-01T00-00-${String(++backups).padStart(2, '0')}.000.json`),
              );
              readSinceChange = false;
            } else if (o.op === 'truncate' && readSinceChange && partial === undefined) {
              // A collector restarted without append: only safe to model once everything was read.
              const lines = Array.from({ length: o.n }, take);
              writeFileSync(live, lines.map((l) => `${l}\n`).join(''));
              complete += lines.length;
              readSinceChange = false;
            } else if (o.op === 'deleteBackups' && readSinceChange) {
              for (let b = 1; b <= backups; b++)
                rmSync(join(t.dir, `genai-2026-01-01T00-00-${String(b).padStart(2, '0')}.000.json`), {
                  force: true,
                });
            } else if (o.op === 'restart') {
              await restart();
            }
          }
          await restart();
          expect((await ledgerTotals(state, ledgerUrl)).requests).toBe(complete);
        } finally {
          t.cleanup();
        }
      }),
      { numRuns: 60, seed: 20261122 },
    );
    // A PostgreSQL run takes ~30 s here (a database per sequence): the budget holds at 4x slower.
  }, 300_000);
});
