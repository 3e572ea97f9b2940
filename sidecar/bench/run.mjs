// `npm run bench -w sidecar` (after `npx tsc -b`): generates >= 1M usage records in collector format
// (100 per line; 50 models, 20 services, 30 features), then measures in fresh processes
// (a) bare read + split + JSON.parse and (b) full sidecar ingest to a committed ledger; the ratio
// (b)/(a); /metrics render time at 10k series; peak RSS; longest event-loop stall during ingest.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOtlpLinesGenerator } from './decode.mjs';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const PER_LINE = 100;
const CHUNK = 50_000;
const child = fileURLToPath(new URL('./ingest-child.mjs', import.meta.url));

function measure(...args) {
  const out = execFileSync(process.execPath, [child, ...args], { encoding: 'utf8', env: process.env });
  return JSON.parse(out.trim().split('\n').at(-1));
}

async function renderAt10kSeries() {
  const { createSidecarMetrics } = await import('../dist/metrics.js');
  const m = createSidecarMetrics();
  let n = 0;
  for (let p = 0; n < 10_000; p++) {
    const model = `model-${p % 50}`;
    const service = `service-${Math.floor(p / 50) % 20}`;
    m.counters.requests.setTotal(['openai', model, service, 'chat', 'ok'], 123456 + p);
    m.counters.tokens.setTotal(['openai', model, service, 'input', 'exact'], 987654321 + p);
    m.counters.tokens.setTotal(['openai', model, service, 'output', 'exact'], 98765432 + p);
    m.counters.cost.setTotal(['openai', model, service, `feature-${p % 30}`, 'exact'], 123456789012 + p);
    n += 4;
  }
  const times = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await m.registry.metrics();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { series: n, medianMs: times[3] };
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'spendline-bench-'));
  try {
    const file = join(dir, 'genai.json');
    const { generateUsageLines } = await loadOtlpLinesGenerator();
    let calls = 0;
    for (let i = 0; i < RECORDS; i += CHUNK) {
      const { lines, truth } = generateUsageLines({
        records: Math.min(CHUNK, RECORDS - i),
        perLine: PER_LINE,
        seed: 1000 + i,
        models: 50,
        services: 20,
        features: 30,
        users: 500,
        startMs: Date.UTC(2026, 0, 1) + i * 250,
      });
      calls += truth.calls;
      appendFileSync(file, lines.map((l) => `${l}\n`).join(''));
    }
    const bytes = statSync(file).size;
    const bare = measure('bare', file);
    const ingest = measure('ingest', file, join(dir, 'state'));
    if (ingest.records !== calls) throw new Error(`ingest counted ${ingest.records}, generated ${calls}`);
    const render = await renderAt10kSeries();
    const rate = (r) => Math.round((r.records / r.ms) * 1000);
    const mbs = (r) => ((bytes / 1e6 / r.ms) * 1000).toFixed(1);
    const ratio = bare.ms / ingest.ms;
    const rows = [
      ['input', `${calls} records, ${(bytes / 1e6).toFixed(0)} MB, ${PER_LINE} records per line`],
      ['(a) bare read + split + JSON.parse', `${rate(bare)} records/s, ${mbs(bare)} MB/s`],
      ['(b) full ingest to committed ledger', `${rate(ingest)} records/s, ${mbs(ingest)} MB/s`],
      ['ratio (b)/(a) (target >= 0.5)', ratio.toFixed(2)],
      [
        `/metrics render at ${render.series} series (target <= 50 ms)`,
        `${render.medianMs.toFixed(1)} ms (median of 7)`,
      ],
      ['peak RSS during ingest (target <= 200 MB)', `${ingest.maxRssMb.toFixed(0)} MB`],
      ['longest event-loop stall during ingest (target <= 100 ms)', `${ingest.maxStallMs.toFixed(0)} ms`],
      [
        'peak RSS / longest stall of bare read',
        `${bare.maxRssMb.toFixed(0)} MB / ${bare.maxStallMs.toFixed(0)} ms`,
      ],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(58)} ${v}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
