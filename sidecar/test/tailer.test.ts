import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { READ_CHUNK_BYTES, ReadBuffer, readCompleteLines } from '../src/tail/completeLines.js';
import { FINGERPRINT_MAX_BYTES } from '../src/tail/fingerprint.js';
import { createTailer, type FileCheckpoint, type Tailer, type TailerOptions } from '../src/tail/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spendline-tailer-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function tailer(options: Partial<TailerOptions>): Tailer {
  const t = createTailer({ otlpGlobs: [], jsonlGlobs: [], maxLineBytes: 1024, checkpoints: [], ...options });
  cleanups.push(() => t.close());
  return t;
}

async function texts(t: Tailer, maxBytes = 1 << 20): Promise<string[]> {
  return (await t.poll(maxBytes)).lines.map((l) => l.text);
}

/** What the collector's file exporter (lumberjack) does: rename the full file, start a new one. */
function rotate(live: string, stamp: string): string {
  const backup = live.replace(/\.(\w+)$/, `-${stamp}.$1`);
  renameSync(live, backup);
  writeFileSync(live, '');
  return backup;
}

describe('createTailer', () => {
  it('yields only complete lines; a partial last line is read once finished', async () => {
    const dir = tempDir();
    const live = join(dir, 'usage.jsonl');
    writeFileSync(live, 'a\nb');
    const t = tailer({ jsonlGlobs: [live] });
    const first = await t.poll(1 << 20);
    expect(first.lines).toEqual([{ text: 'a', kind: 'jsonl', path: live, endOffset: 2 }]);
    expect(first.unreadBytes).toEqual({ [live]: 1 });
    expect(first.caughtUp).toBe(true);
    appendFileSync(live, 'c\nd');
    expect(await texts(t)).toEqual(['bc']);
    appendFileSync(live, '\n');
    expect(await texts(t)).toEqual(['d']);
    expect(await texts(t)).toEqual([]);
  });

  it('strips CRLF line endings', async () => {
    const dir = tempDir();
    const live = join(dir, 'export.json');
    writeFileSync(live, 'x\r\ny\r\n\r\n');
    const t = tailer({ otlpGlobs: [live] });
    const batch = await t.poll(1 << 20);
    expect(batch.lines.map((l) => [l.text, l.kind, l.endOffset])).toEqual([
      ['x', 'otlp', 3],
      ['y', 'otlp', 6],
      ['', 'otlp', 8],
    ]);
  });

  it('does not read a file whose first line is incomplete; its fingerprint is empty', async () => {
    const dir = tempDir();
    const live = join(dir, 'export.json');
    writeFileSync(live, 'partial');
    const t = tailer({ otlpGlobs: [join(dir, '*.json')] });
    const batch = await t.poll(1 << 20);
    const st = statSync(live);
    expect(batch.lines).toEqual([]);
    expect(batch.checkpoints).toEqual([
      {
        key: `${st.dev}:${st.ino}:`,
        path: live,
        dev: st.dev,
        ino: st.ino,
        fingerprint: '',
        offset: 0,
        kind: 'otlp',
      },
    ]);
    appendFileSync(live, '\n');
    const next = await t.poll(1 << 20);
    expect(next.lines.map((l) => l.text)).toEqual(['partial']);
    const cp = next.checkpoints[0];
    expect(cp?.fingerprint).toMatch(/^[0-9a-f]{24}$/);
    expect(cp?.key).toBe(`${st.dev}:${st.ino}:${cp?.fingerprint}`);
    expect(cp?.offset).toBe(8);
  });

  it('fingerprints a long first line by its prefix, only once the line is complete', async () => {
    const dir = tempDir();
    const live = join(dir, 'export.json');
    const head = 'h'.repeat(FINGERPRINT_MAX_BYTES * 3);
    writeFileSync(live, head);
    const t = tailer({ otlpGlobs: [live], maxLineBytes: 100 });
    expect((await t.poll(1 << 20)).checkpoints[0]?.fingerprint).toBe('');
    appendFileSync(live, '\nnext\n');
    const batch = await t.poll(1 << 20);
    const prefix = createHash('sha1').update(head.slice(0, FINGERPRINT_MAX_BYTES)).digest('hex');
    expect(batch.checkpoints[0]?.fingerprint).toBe(prefix.slice(0, 24));
    expect(batch.oversized).toEqual([
      { path: live, kind: 'otlp', offset: 0, bytes: head.length, records: 1 },
    ]);
    expect(batch.lines.map((l) => l.text)).toEqual(['next']);
  });

  it('reads a rotated file to its end under a backup name the glob does not match, then the new file', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    writeFileSync(live, 'old1\nold2\n');
    const t = tailer({ otlpGlobs: [live] });
    expect(await texts(t, 1)).toEqual(['old1']);
    appendFileSync(live, 'old3\n');
    const backup = rotate(live, '2026-11-23T00-00-00.000');
    appendFileSync(live, 'new1\n');
    const batch = await t.poll(1 << 20);
    expect(batch.lines.map((l) => [l.path, l.text])).toEqual([
      [backup, 'old2'],
      [backup, 'old3'],
      [live, 'new1'],
    ]);
    expect(batch.checkpoints.map((c) => [c.path, c.offset]).sort()).toEqual([
      [backup, 15],
      [live, 5],
    ]);
    expect(await texts(t)).toEqual([]);
  });

  it('reads a rotated file whose backup matches the glob exactly once', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    writeFileSync(live, 'a1\na2\n');
    const t = tailer({ otlpGlobs: [join(dir, '*.json')] });
    expect(await texts(t, 1)).toEqual(['a1']);
    rotate(live, '2026-11-23T00-00-00.000');
    appendFileSync(live, 'b1\n');
    expect(await texts(t)).toEqual(['a2', 'b1']);
    expect(await texts(t)).toEqual([]);
  });

  it('follows several rotations between two polls', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    writeFileSync(live, 'r0-1\n');
    const t = tailer({ otlpGlobs: [live] });
    expect(await texts(t)).toEqual(['r0-1']);
    appendFileSync(live, 'r0-2\n');
    rotate(live, '2026-11-23T00-00-01.000');
    appendFileSync(live, 'r1-1\nr1-2\n');
    rotate(live, '2026-11-23T00-00-02.000');
    appendFileSync(live, 'r2-1\n');
    rotate(live, '2026-11-23T00-00-03.000-1024');
    appendFileSync(live, 'r3-1\n');
    expect(await texts(t)).toEqual(['r0-2', 'r1-1', 'r1-2', 'r2-1', 'r3-1']);
    expect(await texts(t)).toEqual([]);
  });

  it('restarts from 0 after truncation and counts the unread rest as lost', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    writeFileSync(live, 'first-1\nfirst-2\nunread\n');
    const t = tailer({ otlpGlobs: [live] });
    expect(await texts(t, 16)).toEqual(['first-1', 'first-2']);
    writeFileSync(live, 'second-1\n'); // the collector restarted without append: O_TRUNC on the same inode
    const batch = await t.poll(1 << 20);
    expect(batch.lines.map((l) => l.text)).toEqual(['second-1']);
    expect(batch.lost).toEqual({ deleted: 0, truncated: 7 }); // known unread bytes of the old content
    appendFileSync(live, 'second-2\n');
    expect(await texts(t)).toEqual(['second-2']);
    writeFileSync(live, 'second-1\n'); // same first line, but below the offset: truncated
    expect(await texts(t)).toEqual(['second-1']);
    writeFileSync(live, 'second-9\n'); // same size at once (one coarse clock tick): the first line tells
    expect(await texts(t)).toEqual(['second-9']);
  });

  it('drops deleted backups from the checkpoints and counts unread bytes of a backup deleted early as lost', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    writeFileSync(live, 'a\n');
    const t = tailer({ otlpGlobs: [live] });
    expect(await texts(t)).toEqual(['a']);
    appendFileSync(live, 'never-read\n');
    const backup = rotate(live, '2026-11-23T00-00-01.000');
    rmSync(backup);
    appendFileSync(live, 'b\n');
    const batch = await t.poll(1 << 20);
    expect(batch.lines.map((l) => l.text)).toEqual(['b']);
    expect(batch.lost).toEqual({ deleted: 11, truncated: 0 });
    expect(batch.checkpoints.map((c) => c.path)).toEqual([live]);

    const backup2 = rotate(live, '2026-11-23T00-00-02.000');
    expect(await texts(t)).toEqual([]);
    expect((await t.poll(1 << 20)).checkpoints.map((c) => c.path).sort()).toEqual([backup2, live]);
    rmSync(backup2);
    const after = await t.poll(1 << 20);
    expect(after.checkpoints.map((c) => c.path)).toEqual([live]);
    expect(after.lost).toEqual({ deleted: 0, truncated: 0 });
  });

  it('never throws for paths that vanish or are not files (dangling link, directory)', async () => {
    const dir = tempDir();
    const { symlinkSync, mkdirSync } = await import('node:fs');
    symlinkSync(join(dir, 'missing.json'), join(dir, 'dangling.json'));
    mkdirSync(join(dir, 'dir.json'));
    writeFileSync(join(dir, 'real.json'), 'r\n');
    const t = tailer({ otlpGlobs: [join(dir, '*.json'), join(dir, 'nowhere', '*.json')] });
    const batch = await t.poll(1 << 20);
    expect(batch.lines.map((l) => l.text)).toEqual(['r']);
    expect(batch.checkpoints.map((c) => c.path)).toEqual([join(dir, 'real.json')]);
  });

  it('picks up files that appear later', async () => {
    const dir = tempDir();
    const t = tailer({ otlpGlobs: [join(dir, '*.json')], jsonlGlobs: [join(dir, 'logs', '*.jsonl')] });
    expect((await t.poll(1 << 20)).checkpoints).toEqual([]);
    writeFileSync(join(dir, 'one.json'), 'o\n');
    expect(await texts(t)).toEqual(['o']);
    rmSync(join(dir, 'logs'), { recursive: true, force: true });
    const logs = join(dir, 'logs');
    (await import('node:fs')).mkdirSync(logs);
    writeFileSync(join(logs, 'u.jsonl'), 'u\n');
    const batch = await t.poll(1 << 20);
    expect(batch.lines.map((l) => [l.kind, l.text])).toEqual([['jsonl', 'u']]);
  });

  it('resumes exactly from committed checkpoints in a fresh tailer, also across a rotation while stopped', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    writeFileSync(live, 'l1\nl2\nl3\nl4\n');
    const t1 = tailer({ otlpGlobs: [live] });
    const batch = await t1.poll(5);
    expect(batch.lines.map((l) => l.text)).toEqual(['l1', 'l2']);
    await t1.close();
    appendFileSync(live, 'l5\n');
    const backup = rotate(live, '2026-11-23T00-00-01.000');
    appendFileSync(live, 'n1\n');
    const t2 = tailer({ otlpGlobs: [live], checkpoints: batch.checkpoints });
    const resumed = await t2.poll(1 << 20);
    expect(resumed.lines.map((l) => [l.path, l.text])).toEqual([
      [backup, 'l3'],
      [backup, 'l4'],
      [backup, 'l5'],
      [live, 'n1'],
    ]);
  });

  it('treats the same inode with a different first line as new content on restart', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    writeFileSync(live, 'one\ntwo\n');
    const t1 = tailer({ otlpGlobs: [live] });
    const { checkpoints } = await t1.poll(1 << 20);
    await t1.close();
    writeFileSync(live, 'other\nlines\nhere\n'); // same inode, longer than the old offset
    const t2 = tailer({ otlpGlobs: [live], checkpoints });
    const read = await t2.poll(1 << 20);
    expect(read.lines.map((l) => l.text)).toEqual(['other', 'lines', 'here']);
    await t2.close();
    writeFileSync(live, 'other\n'); // same first line as the checkpoint, shorter than its offset
    const t4 = tailer({ otlpGlobs: [live], checkpoints: read.checkpoints });
    expect(await texts(t4)).toEqual(['other']);
    const stale: FileCheckpoint[] = checkpoints.map((c) => ({ ...c, path: join(dir, 'gone.json') }));
    const t3 = tailer({ otlpGlobs: [live], checkpoints: stale });
    expect(await texts(t3)).toEqual(['other']);
  });

  it('skips lines over the maximum to their newline and reports them', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    const big = 'x'.repeat(3 * READ_CHUNK_BYTES + 17);
    writeFileSync(live, `ok1\n${big}`);
    const t = tailer({ otlpGlobs: [live], maxLineBytes: 100 });
    const first = await t.poll(1 << 20);
    expect(first.lines.map((l) => l.text)).toEqual(['ok1']);
    expect(first.oversized).toEqual([]);
    appendFileSync(live, `\n${'y'.repeat(101)}\nok2\r\n`);
    const skipped = await t.poll(1 << 20); // skipping counts against the byte budget
    expect(skipped.oversized).toEqual([
      { path: live, kind: 'otlp', offset: 4, bytes: big.length, records: 1 },
    ]);
    expect(skipped.lines).toEqual([]);
    const batch = await t.poll(1 << 20);
    expect(batch.oversized).toEqual([
      { path: live, kind: 'otlp', offset: 5 + big.length, bytes: 101, records: 1 },
    ]);
    expect(batch.lines.map((l) => l.text)).toEqual(['ok2']);
    expect(batch.checkpoints[0]?.offset).toBe(statSync(live).size);
  });

  it('never buffers more than max(read chunk, maxLineBytes + 1) of one line', async () => {
    const dir = tempDir();
    const path = join(dir, 'long.json');
    const long = 'z'.repeat(2 * READ_CHUNK_BYTES);
    writeFileSync(path, `${'w'.repeat(5 * READ_CHUNK_BYTES)}\n${long}\nend\n`);
    const handle = await open(path, 'r');
    cleanups.push(() => handle.close());
    const size = (await handle.stat()).size;
    const maxLineBytes = 2 * READ_CHUNK_BYTES + 10;
    const scratch = new ReadBuffer();
    const got = await readCompleteLines(handle, 0, size, 1 << 30, maxLineBytes, scratch);
    expect(got.oversized).toEqual([{ offset: 0, bytes: 5 * READ_CHUNK_BYTES, records: 1 }]);
    expect(got.lines.map((l) => l.text.length)).toEqual([long.length, 3]);
    expect(got.offset).toBe(size);
    expect(scratch.capacity).toBeLessThanOrEqual(maxLineBytes + 1);
    const small = new ReadBuffer();
    const skipped = await readCompleteLines(handle, 0, size, 1 << 30, 100, small);
    expect(skipped.oversized.map((o) => o.bytes)).toEqual([5 * READ_CHUNK_BYTES, long.length]);
    expect(small.capacity).toBe(READ_CHUNK_BYTES);
  });

  it('reads lines of any length across read chunks exactly once, whatever the budget', async () => {
    const dir = tempDir();
    const path = join(dir, 'mixed.json');
    // Lengths around and past the read chunk, so lines straddle reads, and a hint from a long line
    // meets short ones; one line over the maximum.
    const lengths = [10, READ_CHUNK_BYTES - 3, 5, READ_CHUNK_BYTES + 7, 300_000, 2 * READ_CHUNK_BYTES + 1];
    const maxLineBytes = 2 * READ_CHUNK_BYTES;
    const texts = lengths.flatMap((n, i) => [String.fromCharCode(97 + i).repeat(n), `short-${i}`]);
    writeFileSync(path, `${texts.join('\n')}\npartial`);
    const handle = await open(path, 'r');
    cleanups.push(() => handle.close());
    const size = (await handle.stat()).size;
    for (const budget of [0, 1000, READ_CHUNK_BYTES / 2, READ_CHUNK_BYTES, 3 * READ_CHUNK_BYTES, 1 << 30]) {
      const scratch = new ReadBuffer();
      const seen: string[] = [];
      const skipped: number[] = [];
      let offset = 0;
      for (let polls = 0; polls < 100; polls++) {
        const got = await readCompleteLines(handle, offset, size, budget, maxLineBytes, scratch);
        seen.push(...got.lines.map((l) => l.text));
        skipped.push(...got.oversized.map((o) => o.bytes));
        if (got.offset === offset) break;
        offset = got.offset;
      }
      expect(seen, `budget ${budget}`).toEqual(texts.filter((t) => t.length <= maxLineBytes));
      expect(skipped).toEqual([2 * READ_CHUNK_BYTES + 1]);
      expect(offset).toBe(size - 'partial'.length);
      expect(scratch.capacity).toBeLessThanOrEqual(maxLineBytes + 1);
    }
  });

  it('decodes every line as its own bytes would decode, whatever bytes it holds, with exact offsets', async () => {
    // Lines are decoded a read's worth at a time (ASCII as Latin-1, the rest as UTF-8) and cut at their
    // newlines: the result must equal decoding each line's bytes alone, for any bytes (multi-byte
    // characters, invalid and cut-off sequences next to a newline or a CR, NULs, a BOM), any mix of
    // ASCII and non-ASCII lines, oversized lines between them, and any budget.
    const dir = tempDir();
    const pieces = [
      [0x61],
      [0x7b, 0x22],
      [0x0d],
      [0x00],
      [0xef, 0xbb, 0xbf],
      [0xc3, 0xa9],
      [0xe2, 0x82, 0xac],
      [0xf0, 0x9f, 0x92, 0xb8],
      [0xe2, 0x82],
      [0xf0, 0x9f],
      [0x80],
      [0xff],
      [0xc3],
    ];
    const lineArb = fc.array(
      fc.oneof(fc.constantFrom(...pieces), fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 40 })),
      { maxLength: 30 },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 20, max: 200 }),
        fc.constantFrom(1, 50, 300, 1 << 30),
        async (lineBytes, maxLineBytes, budget) => {
          const lines = lineBytes.map((parts) => Buffer.from(parts.flat()));
          const path = join(dir, `bytes-${run++}.json`);
          writeFileSync(path, Buffer.concat(lines.flatMap((l) => [l, Buffer.from([10])])));
          const handle = await open(path, 'r');
          try {
            const size = (await handle.stat()).size;
            const expected: { text: string; endOffset: number }[] = [];
            let end = 0;
            for (const l of lines) {
              end += l.length + 1;
              if (l.length > maxLineBytes) continue;
              const cut = l.length > 0 && l[l.length - 1] === 13 ? l.length - 1 : l.length;
              expected.push({ text: l.toString('utf8', 0, cut), endOffset: end });
            }
            const seen: { text: string; endOffset: number }[] = [];
            const scratch = new ReadBuffer();
            let offset = 0;
            for (let polls = 0; polls < 1000 && offset < size; polls++) {
              const got = await readCompleteLines(handle, offset, size, budget, maxLineBytes, scratch);
              seen.push(...got.lines);
              offset = got.offset;
            }
            expect(offset).toBe(size);
            expect(seen).toEqual(expected);
          } finally {
            await handle.close();
          }
        },
      ),
      { numRuns: 300, seed: 17 },
    );
  });

  it('finishes a rotated backup before reading its successor, and alternates files on tiny budgets', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    const other = join(dir, 'other.json');
    writeFileSync(live, 'seed\n');
    const t = tailer({ otlpGlobs: [live, other] });
    expect(await texts(t)).toEqual(['seed']);
    writeFileSync(other, 'o1\no2\no3\no4\n');
    appendFileSync(live, 'b1\nb2\n');
    rotate(live, '2026-11-23T00-00-01.000');
    appendFileSync(live, 'n1\nn2\n');
    const polls: string[][] = [];
    for (let i = 0; i < 9; i++) polls.push(await texts(t, 0));
    expect(polls.map((p) => p.length)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 0]);
    const got = polls.flat();
    expect(got.filter((x) => !x.startsWith('o'))).toEqual(['b1', 'b2', 'n1', 'n2']);
    expect(got.filter((x) => x.startsWith('o'))).toEqual(['o1', 'o2', 'o3', 'o4']);
    expect(
      got
        .slice(0, 2)
        .map((x) => x[0])
        .sort(),
    ).toEqual(['b', 'o']);
  });

  it('reads about maxBytes per poll, at least one line, fairly across files', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.json'), 'a1-----\na2-----\na3-----\n');
    writeFileSync(join(dir, 'b.json'), 'b1-----\nb2-----\nb3-----\n');
    const t = tailer({ otlpGlobs: [join(dir, '*.json')] });
    const one = await t.poll(0);
    expect(one.lines).toHaveLength(1);
    expect(one.caughtUp).toBe(false);
    const two = await t.poll(16);
    expect(two.lines.map((l) => l.text[0]).sort()).toEqual(['a', 'b']);
    const rest = await t.poll(1 << 20);
    expect(rest.lines).toHaveLength(3);
    expect(rest.caughtUp).toBe(true);
    expect(rest.unreadBytes).toEqual({ [join(dir, 'a.json')]: 0, [join(dir, 'b.json')]: 0 });
  });
});
