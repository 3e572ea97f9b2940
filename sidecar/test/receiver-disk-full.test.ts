/**
 * A real full disk (a 3 MiB tmpfs, mounted for the test: needs root) under the local receiver: the
 * request that hits ENOSPC is answered 503 and leaves no partial line; once space is freed the retried
 * request and the next one are written, and every acknowledged record decodes. A long fault run:
 * only with SPENDLINE_FAULT_RUNS=1 (then it fails, never skips, when it cannot mount).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';
import { type RunningReceiver, startOtlpReceiver } from '../src/receiver/index.js';
import { generateUsageLines } from './support/otlpLines.js';

const LONG = process.env.SPENDLINE_FAULT_RUNS === '1';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('export file on a full disk', () => {
  it.runIf(LONG)(
    'answers 503 at ENOSPC, leaves no partial line, and counts everything acknowledged',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'spendline-diskfull-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
      cleanups.push(() => {
        execFileSync('umount', [dir]);
      });
      const filler = join(dir, 'filler');
      writeFileSync(filler, Buffer.alloc(2700 * 1024));
      const path = join(dir, 'export.jsonl');
      const receiver: RunningReceiver = await startOtlpReceiver({
        host: '127.0.0.1',
        port: 0,
        filePath: path,
      });
      cleanups.push(() => receiver.close());
      const g = generateUsageLines({ records: 4000, perLine: 40, seed: 41, startMs: Date.now() - 3_600_000 });
      const post = async (i: number) =>
        (
          await fetch(`${receiver.url}/v1/logs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: g.lines[i] as string,
          })
        ).status;
      let i = 0;
      let status = 200;
      for (; i < g.lines.length && status === 200; i++) status = await post(i);
      expect(status).toBe(503);
      const refused = i - 1;
      expect(readFileSync(path, 'utf8').endsWith('\n')).toBe(true);
      expect(receiver.stats().writeFailures).toBe(1);
      rmSync(filler);
      expect(await post(refused)).toBe(200); // the exporter's retry
      expect(await post(refused + 1)).toBe(200);
      let records = 0;
      for (const line of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
        const out = decodeOtlpJsonLine(line);
        expect(out.rejected).toEqual([]);
        records += out.records.length;
      }
      expect(records).toBe((refused + 2) * 40);
    },
    60_000,
  );
});
