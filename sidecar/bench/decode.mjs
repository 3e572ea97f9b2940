// Micro benchmark of the decoders (built dist): records/s of decodeOtlpJsonLine beside bare JSON.parse
// of the same lines. Run: `npx tsc -b && node sidecar/bench/decode.mjs [records] [perLine] [logs|spans|mixed]`;
// `node sidecar/bench/decode.mjs [records] 0 empty-records`: one line of that many empty log records (a
// hostile line: the decoder's cost per record beside JSON.parse's).
// Also exports loadOtlpLinesGenerator() for other benchmarks (Node 20 cannot import the TS generator).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/** Transpiles test/support/otlpLines.ts to a temp module with its package imports resolved; returns the module. */
export async function loadOtlpLinesGenerator() {
  const source = readFileSync(
    fileURLToPath(new URL('../test/support/otlpLines.ts', import.meta.url)),
    'utf8',
  );
  let js = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
    },
  }).outputText;
  for (const spec of ['@spendline/sdk/contract', '@spendline/sdk']) {
    js = js
      .replaceAll(`'${spec}'`, `'${import.meta.resolve(spec)}'`)
      .replaceAll(`"${spec}"`, `"${import.meta.resolve(spec)}"`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'spendline-otlplines-'));
  try {
    const file = join(dir, 'otlpLines.mjs');
    writeFileSync(file, js);
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function bestOf(runs, fn) {
  let best = Number.POSITIVE_INFINITY;
  let result;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    result = fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms < best) best = ms;
  }
  return { ms: best, result };
}

async function main() {
  const records = Number(process.argv[2] ?? 200_000);
  const perLine = Number(process.argv[3] ?? 100);
  const kind = process.argv[4] ?? 'logs';
  const { decodeOtlpJsonLine } = await import('../dist/decode/index.js');
  if (kind === 'empty-records') {
    const line = `{"resourceLogs":[{"scopeLogs":[{"scope":{"name":"gen_ai.hostile"},"logRecords":[${Array(records).fill('{}').join(',')}]}]}]}`;
    const parse = bestOf(5, () => JSON.parse(line).resourceLogs.length);
    const decode = bestOf(5, () => decodeOtlpJsonLine(line).ignored);
    if (decode.result !== records) throw new Error(`ignored ${decode.result}, want ${records}`);
    console.log(`one line of ${records} empty log records, ${(line.length / 1e6).toFixed(1)} MB (best of 5)`);
    console.log(`bare JSON.parse:     ${parse.ms.toFixed(0)} ms`);
    console.log(`decodeOtlpJsonLine:  ${decode.ms.toFixed(0)} ms`);
    console.log(`ratio decode/parse:  ${(decode.ms / parse.ms).toFixed(2)}`);
    return;
  }
  const { generateUsageLines } = await loadOtlpLinesGenerator();
  const { lines, truth } = generateUsageLines({
    records,
    perLine,
    seed: 42,
    models: 50,
    services: 20,
    features: 30,
    users: 1000,
    kind,
  });
  const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
  const parse = bestOf(5, () => {
    let n = 0;
    for (const l of lines) n += Object.keys(JSON.parse(l)).length;
    return n;
  });
  const decode = bestOf(5, () => {
    let n = 0;
    for (const l of lines) n += decodeOtlpJsonLine(l).records.length;
    return n;
  });
  if (decode.result !== truth.decodedRecords)
    throw new Error(`decoded ${decode.result}, truth ${truth.decodedRecords}`);
  const rate = (ms) => Math.round((truth.decodedRecords / ms) * 1000);
  const mbs = (ms) => ((bytes / 1e6 / ms) * 1000).toFixed(1);
  console.log(
    `${kind}: ${truth.decodedRecords} records, ${lines.length} lines, ${(bytes / 1e6).toFixed(1)} MB (best of 5)`,
  );
  console.log(`bare JSON.parse:     ${rate(parse.ms)} records/s, ${mbs(parse.ms)} MB/s`);
  console.log(`decodeOtlpJsonLine:  ${rate(decode.ms)} records/s, ${mbs(decode.ms)} MB/s`);
  console.log(`ratio decode/parse:  ${(parse.ms / decode.ms).toFixed(2)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
