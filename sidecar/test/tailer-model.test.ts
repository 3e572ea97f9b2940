/**
 * Randomised sequences of write / rotate / truncate / delete-backup / restart / crash / poll against a model of
 * what must be read: every complete line is yielded exactly once, in per-file order, except lines of
 * contents truncated or deleted before being read.
 */
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTailer, type FileCheckpoint, type TailBatch, type Tailer } from '../src/tail/index.js';

type Op =
  | { op: 'line'; file: number; pad: number; crlf: boolean }
  | { op: 'partial'; file: number }
  | { op: 'rotate'; file: number }
  | { op: 'truncate'; file: number }
  | { op: 'deleteOldestBackup'; file: number }
  | { op: 'restart' }
  /** Dies before committing the last batch: restarts from the checkpoints before it. */
  | { op: 'crash' }
  | { op: 'poll'; maxBytes: number };

/** One content: what was written to one inode between creation (or truncation) and its end. */
interface Content {
  complete: string[];
  partial: string;
  yielded: number;
  /** Truncated or deleted: nothing more may be yielded from it. */
  gone: boolean;
}

interface LiveFile {
  path: string;
  ext: string;
  stem: string;
  live: Content;
  /** Every content this path has held, oldest first: a newer one is read only after the older ones. */
  history: Content[];
  backups: { path: string; content: Content }[];
}

const file = fc.constantFrom(0, 0, 0, 1); // mostly one file, so its rotations and deletions interleave densely
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('line' as const),
      file,
      pad: fc.integer({ min: 0, max: 300 }),
      crlf: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('partial' as const), file }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('rotate' as const), file }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), file }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('deleteOldestBackup' as const), file }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'crash' as const }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('poll' as const),
      maxBytes: fc.constantFrom(0, 40, 40, 300, 1 << 20),
    }),
  },
);

const fresh = (): Content => ({ complete: [], partial: '', yielded: 0, gone: false });

async function runScenario(ops: Op[], literalGlob: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spendline-tailer-model-'));
  const files: LiveFile[] = [
    { path: join(dir, 'genai.json'), stem: 'genai', ext: '.json', live: fresh(), history: [], backups: [] },
    { path: join(dir, 'usage.jsonl'), stem: 'usage', ext: '.jsonl', live: fresh(), history: [], backups: [] },
  ];
  for (const f of files) f.history.push(f.live);
  for (const f of files) writeFileSync(f.path, '');
  const byText = new Map<string, { content: Content; file: LiveFile }>();
  const options = {
    otlpGlobs: [literalGlob ? join(dir, 'genai.json') : join(dir, '*.json')],
    jsonlGlobs: [literalGlob ? join(dir, 'usage.jsonl') : join(dir, 'usage*.jsonl')],
    maxLineBytes: 4096,
  };
  let checkpoints: FileCheckpoint[] = [];
  /** The last batch, not yet committed until the next poll: its lines and the checkpoints before it. */
  let uncommitted: { texts: string[]; before: FileCheckpoint[] } = { texts: [], before: [] };
  let tailer: Tailer = createTailer({ ...options, checkpoints });
  let serial = 0;
  let rotations = 0;

  const check = (batch: TailBatch) => {
    expect(batch.oversized).toEqual([]);
    for (const line of batch.lines) {
      const written = byText.get(line.text);
      if (written === undefined) throw new Error(`yielded a line never written: ${line.text}`);
      const { content, file } = written;
      expect(content.gone).toBe(false);
      for (const older of file.history.slice(0, file.history.indexOf(content))) {
        if (!older.gone) expect(older.yielded).toBe(older.complete.length); // rotated backups first
      }
      expect(line.text).toBe(content.complete[content.yielded]); // exactly once, in order
      content.yielded++;
    }
    uncommitted = { texts: batch.lines.map((l) => l.text), before: checkpoints };
    checkpoints = batch.checkpoints;
  };

  try {
    for (const step of ops) {
      switch (step.op) {
        case 'line': {
          const f = files[step.file] as LiveFile;
          const text = `${f.live.partial}${f.stem}-${serial++}-${'p'.repeat(step.pad)}`;
          appendFileSync(f.path, `${text.slice(f.live.partial.length)}${step.crlf ? '\r\n' : '\n'}`);
          f.live.partial = '';
          f.live.complete.push(text);
          byText.set(text, { content: f.live, file: f });
          break;
        }
        case 'partial': {
          const f = files[step.file] as LiveFile;
          const piece = `part${serial++}-`;
          appendFileSync(f.path, piece);
          f.live.partial += piece;
          break;
        }
        case 'rotate': {
          const f = files[step.file] as LiveFile;
          const backup = join(
            dir,
            `${f.stem}-2026-11-23T00-00-${String(rotations++).padStart(2, '0')}.000${f.ext}`,
          );
          renameSync(f.path, backup);
          writeFileSync(f.path, '');
          f.backups.push({ path: backup, content: f.live });
          f.live = fresh();
          f.history.push(f.live);
          break;
        }
        case 'truncate': {
          const f = files[step.file] as LiveFile;
          writeFileSync(f.path, ''); // O_TRUNC on the same inode, as a collector restarted without append
          f.live.gone = true;
          f.live = fresh();
          f.history.push(f.live);
          break;
        }
        case 'deleteOldestBackup': {
          const f = files[step.file] as LiveFile;
          const oldest = f.backups.shift();
          if (oldest === undefined) break;
          rmSync(oldest.path);
          oldest.content.gone = true;
          break;
        }
        case 'restart':
          await tailer.close();
          tailer = createTailer({ ...options, checkpoints });
          uncommitted = { texts: [], before: checkpoints };
          break;
        case 'crash':
          await tailer.close();
          for (const text of uncommitted.texts) (byText.get(text) as { content: Content }).content.yielded--;
          checkpoints = uncommitted.before;
          uncommitted = { texts: [], before: checkpoints };
          tailer = createTailer({ ...options, checkpoints });
          break;
        case 'poll':
          check(await tailer.poll(step.maxBytes));
          break;
      }
    }
    for (let i = 0; i < 20; i++) {
      const batch = await tailer.poll(1 << 20);
      check(batch);
      if (batch.caughtUp && batch.lines.length === 0) break;
    }
    for (const f of files) {
      for (const content of [f.live, ...f.backups.map((b) => b.content)]) {
        expect(content.yielded).toBe(content.complete.length);
      }
    }
  } finally {
    await tailer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('tailer against a model of what must be read', () => {
  it('yields every complete line exactly once, in per-file order, through rotations, truncations, deletions and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.boolean(), runScenario),
      {
        numRuns: 100,
        examples: [
          [
            [
              { op: 'line', file: 0, pad: 50, crlf: false },
              { op: 'line', file: 0, pad: 50, crlf: false },
              { op: 'poll', maxBytes: 40 },
              { op: 'rotate', file: 0 },
              { op: 'deleteOldestBackup', file: 0 },
              { op: 'poll', maxBytes: 40 },
            ],
            true,
          ],
        ],
      },
    );
  }, 60_000);
});
