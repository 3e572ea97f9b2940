import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';
import { generateUsageLines } from './support/otlpLines.js';
import {
  recordCounts,
  registryTotals,
  runUntilCaughtUp,
  tempDir,
  truthTotals,
} from './support/sidecarHarness.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/collector/', import.meta.url));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('real collector fixtures through the whole pipeline', () => {
  it('ignores the OpenTelemetry Demo application logs and counts the usage lines among them exactly', async () => {
    const t = tempDir('spendline-fix-');
    cleanups.push(t.cleanup);
    const demo = readFileSync(join(FIXTURES, 'otel-demo-logs.head.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const compact = ['otlp-proto-example-events.json', 'otlp-proto-example-trace.json'].map((f) =>
      JSON.stringify(JSON.parse(readFileSync(join(FIXTURES, f), 'utf8'))),
    );
    const g = generateUsageLines({ records: 90, perLine: 9, seed: 3 });
    const file = join(t.dir, 'genai.json');
    writeFileSync(file, [...demo, ...g.lines, ...compact].map((l) => `${l}\n`).join(''));
    const expectedIgnored = [...demo, ...compact].reduce((n, l) => n + decodeOtlpJsonLine(l).ignored, 0);
    expect(expectedIgnored).toBeGreaterThan(10);
    const m = await runUntilCaughtUp(join(t.dir, 'state'), { otlpGlobs: [file] });
    expect(registryTotals(m)).toEqual(truthTotals(g.truth));
    expect(recordCounts(m)).toEqual({ counted: 90, ignored: expectedIgnored });
  });
});
