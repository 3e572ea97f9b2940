/**
 * The tailer against unusual file-system states: thousands of per-resource files (the collector's
 * `group_by`), files it cannot read, binary exports (`format: proto`, `compression: zstd`), FIFOs and
 * special files matched by a glob. Real files, real directories.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
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
