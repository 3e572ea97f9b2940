/**
 * The decoder's hot functions stay optimized on a long run of usage records. A field whose type V8
 * saw change between records (the record's latencies, once NaN-or-number) made it throw away the
 * optimized record builder after every few hundred records and build it again: ~40 % of decoding
 * time, invisible in any functional test. Bound by work: deoptimizations counted over 20,000 records.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateUsageLines } from './support/otlpLines.js';
import { tempDir } from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const HOT = ['decodeOtlpJsonLine', 'decodeLogRecord', 'decodeSpan', 'finish', 'addAttribute', 'countRecord'];

describe('decoder optimization', () => {
  for (const withSessions of [false, true])
    it(`does not deoptimize its hot functions again and again (${withSessions ? 'with' : 'without'} session ids)`, () => {
      const t = tempDir('spendline-deopt-');
      cleanups.push(t.cleanup);
      const { lines, truth } = generateUsageLines({
        records: 20_000,
        perLine: 100,
        seed: 7,
        models: 50,
        services: 20,
        features: 30,
        users: 500,
        shape: 'correlated',
        withSessions,
        startMs: Date.UTC(2026, 0, 1),
      });
      const file = join(t.dir, 'lines.json');
      writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
      const script = join(t.dir, 'decode.mjs');
      const decoder = new URL('../dist/decode/index.js', import.meta.url).href;
      writeFileSync(
        script,
        `import { readFileSync } from 'node:fs';
import { decodeOtlpJsonLine } from ${JSON.stringify(decoder)};
let n = 0;
for (const line of readFileSync(${JSON.stringify(file)}, 'utf8').split('\\n'))
  if (line !== '') n += decodeOtlpJsonLine(line).records.length;
process.stdout.write('records ' + n + '\\n');
`,
      );
      const run = spawnSync(process.execPath, ['--trace-deopt', script], {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      });
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`records ${truth.calls}`);
      const deopts = new Map<string, number>();
      for (const m of run.stdout.matchAll(/deoptimizing [^<]*<JSFunction (\w+)/g)) {
        const name = m[1] as string;
        if (HOT.includes(name)) deopts.set(name, (deopts.get(name) ?? 0) + 1);
      }
      // A function may be deoptimized a few times while its type feedback settles; not once per batch.
      expect([...deopts].filter(([, n]) => n > 5)).toEqual([]);
    });
});
