/**
 * The tailer against unusual file-system states: thousands of per-resource files (the collector's
 * `group_by`), files it cannot read, binary exports (`format: proto`, `compression: zstd`), FIFOs and
 * special files matched by a glob. Real files, real directories.
 */
import { appendFileSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FINGERPRINT_MAX_BYTES } from '../src/tail/fingerprint.js';
import { createTailer, type Tailer, type TailerOptions } from '../src/tail/index.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spendline-tail-hostile-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function tailer(options: Partial<TailerOptions>): Tailer {
  const t = createTailer({ otlpGlobs: [], jsonlGlobs: [], maxLineBytes: 1024, checkpoints: [], ...options });
  cleanups.push(() => t.close());
  return t;
}

describe('tailer: many files', () => {
  it('reads thousands of group_by files and their rotated backups exactly once, names sharing prefixes included', async () => {
    const dir = tempDir();
    const expected: string[] = [];
    // group_by writes one file per resource value; "svc7" and "svc7-v2" share a prefix, so the
    // second also looks like a rotated backup of the first (`<stem>-<anything>.<ext>`).
    const write = (name: string, line: string, mtimeS: number) => {
      writeFileSync(join(dir, name), `${line}\n`);
      utimesSync(join(dir, name), mtimeS, mtimeS);
      expected.push(line);
    };
    for (let i = 0; i < 1500; i++) {
      write(`genai-svc${i}-2026-11-30T10-00-00.000.json`, `backup ${i}`, 1_000);
      write(`genai-svc${i}.json`, `live ${i}`, 2_000);
      if (i % 10 === 7) write(`genai-svc${i}-v2.json`, `v2 ${i}`, 3_000);
    }
    const t = tailer({ otlpGlobs: [join(dir, 'genai-*.json')] });
    const read: string[] = [];
    for (let poll = 0; poll < 5; poll++) {
      const batch = await t.poll(1 << 20);
      read.push(...batch.lines.map((l) => l.text));
    }
    expect(read.length).toBe(expected.length);
    expect(new Set(read)).toEqual(new Set(expected));
    // Within a family the backup comes before its live file.
    for (let i = 0; i < 1500; i += 97)
      expect(read.indexOf(`backup ${i}`)).toBeLessThan(read.indexOf(`live ${i}`));
  });
});

/** Counts the bytes every FileHandle reads while `during` runs (the tailer reads only through them). */
async function bytesReadDuring(during: () => Promise<void>): Promise<number> {
  const handle = await open(import.meta.filename);
  const proto = Object.getPrototypeOf(handle) as {
    read: (...args: unknown[]) => Promise<{ bytesRead: number }>;
  };
  await handle.close();
  const read = proto.read;
  let bytes = 0;
  proto.read = async function (this: unknown, ...args: unknown[]) {
    const r = await read.apply(this, args);
    bytes += r.bytesRead;
    return r;
  };
  try {
    await during();
  } finally {
    proto.read = read;
  }
  return bytes;
}

describe('tailer: a line that does not end', () => {
  it('reads an unfinished last line once, then only what is added to it, until its newline comes', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    const unfinished = `{"resourceLogs":[${'x'.repeat(8 * 1024 * 1024)}`;
    writeFileSync(live, `first\n${unfinished}`);
    const t = tailer({ otlpGlobs: [live], maxLineBytes: 1024 * 1024 });
    const polls: string[][] = [];
    const first = await bytesReadDuring(async () => {
      polls.push((await t.poll(1 << 20)).lines.map((l) => l.text));
    });
    expect(first).toBeGreaterThan(unfinished.length);
    // Idle polls (a collector that died mid-line, a file that never ends) read nothing of the line: at
    // most the first line's fingerprint and the bytes before the offset again (up to 64, the rewrite
    // check), while the file's mtime is too recent to trust.
    const idle = await bytesReadDuring(async () => {
      for (let i = 0; i < 5; i++) polls.push((await t.poll(1 << 20)).lines.map((l) => l.text));
    });
    expect(idle).toBeLessThanOrEqual(5 * (FINGERPRINT_MAX_BYTES + 64));
    // Growth: only the new bytes are looked at for a newline (plus the first line's fingerprint).
    appendFileSync(live, 'y'.repeat(100_000));
    const grown = await bytesReadDuring(async () => {
      polls.push((await t.poll(1 << 20)).lines.map((l) => l.text));
    });
    expect(grown).toBeLessThanOrEqual(100_000 + FINGERPRINT_MAX_BYTES + 64); // and the bytes before the offset
    appendFileSync(live, ']}\nlast\n');
    let oversized = 0;
    for (let i = 0; i < 3; i++) {
      const batch = await t.poll(1 << 20);
      oversized += batch.oversized.length;
      polls.push(batch.lines.map((l) => l.text));
    }
    expect(polls.flat()).toEqual(['first', 'last']);
    expect(oversized).toBe(1);
  });
});

describe('tailer: a file rewritten from its start', () => {
  it('reads it again from 0 when it comes back with the same first line and grown past the offset', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    // The collector restarted without append and re-sent its first batch: same first line.
    writeFileSync(live, 'first\nsecond\nunread-tail');
    const t = tailer({ otlpGlobs: [live] });
    expect((await t.poll(1 << 20)).lines.map((l) => l.text)).toEqual(['first', 'second']);
    writeFileSync(live, 'first\nnew-2\nnew-3\nnew-4\n');
    const batch = await t.poll(1 << 20);
    expect(batch.lines.map((l) => l.text)).toEqual(['first', 'new-2', 'new-3', 'new-4']);
    expect(batch.lost).toEqual({ deleted: 0, truncated: 'unread-tail'.length });
    // Growth by append is not a rewrite.
    appendFileSync(live, 'new-5\n');
    expect((await t.poll(1 << 20)).lines.map((l) => l.text)).toEqual(['new-5']);
  });
});

describe('tailer: a file whose first line does not end', () => {
  it('looks only at the bytes added since for the first newline, then reads the file from its start', async () => {
    const dir = tempDir();
    const live = join(dir, 'genai.json');
    writeFileSync(live, `{"resourceLogs":[${'x'.repeat(8 * 1024 * 1024)}`);
    const t = tailer({ otlpGlobs: [live], maxLineBytes: 16 * 1024 * 1024 });
    await t.poll(1 << 20);
    const idle = await bytesReadDuring(async () => {
      for (let i = 0; i < 5; i++) expect((await t.poll(1 << 20)).lines).toEqual([]);
    });
    expect(idle).toBe(0);
    appendFileSync(live, 'y'.repeat(100_000));
    const grown = await bytesReadDuring(async () => {
      expect((await t.poll(1 << 20)).lines).toEqual([]);
    });
    expect(grown).toBeLessThanOrEqual(100_000 + 64);
    appendFileSync(live, ']}\nsecond\n');
    const texts: string[] = [];
    for (let i = 0; i < 3; i++) texts.push(...(await t.poll(64 << 20)).lines.map((l) => l.text.slice(0, 17)));
    expect(texts).toEqual(['{"resourceLogs":[', 'second']);
  });
});

describe('tailer: names that cannot be looked up', () => {
  it('reports a symlink loop matched by the glob as unreadable and keeps reading the other files', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'good.json'), 'line\n');
    symlinkSync(join(dir, 'b.json'), join(dir, 'a.json'));
    symlinkSync(join(dir, 'a.json'), join(dir, 'b.json'));
    const t = tailer({ otlpGlobs: [join(dir, '*.json'), join(dir, 'a.json')] });
    const batch = await t.poll(1 << 20);
    expect(batch.lines.map((l) => l.text)).toEqual(['line']);
    expect(batch.unreadable).toEqual([
      { path: join(dir, 'a.json'), reason: 'io_error', detail: 'ELOOP', bytes: 0 },
    ]);
  });
});
