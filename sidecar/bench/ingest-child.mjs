// One measured run in a fresh process (so peak RSS is this run's): `bare <file>` reads, splits and
// JSON.parses the file; `bare-ascii <file>` the same, decoding a read that is all ASCII as Latin-1 (a
// copy: what the sidecar's tail does, where Node 20's UTF-8 decoding is several times slower);
// `ingest <file> <stateDir> [ledgerUrl sidecarId]` runs the full sidecar pipeline to a committed
// ledger (SQLite in stateDir, or the PostgreSQL ledger at ledgerUrl as sidecarId).
import { isAscii } from 'node:buffer';
import { open } from 'node:fs/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

const [mode, file, stateDir, ledgerUrl, sidecarId] = process.argv.slice(2);
const stall = monitorEventLoopDelay({ resolution: 10 });
let t0 = performance.now();
let cpu0 = process.cpuUsage();
const bare = mode === 'bare' || mode === 'bare-ascii';
if (bare) stall.enable();
let records = 0;
if (bare) {
  const ascii = mode === 'bare-ascii';
  const handle = await open(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  let carry = '';
  let pos = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const latin1 = ascii && isAscii(buf.subarray(0, bytesRead));
    const text = carry + buf.toString(latin1 ? 'latin1' : 'utf8', 0, bytesRead);
    const parts = text.split('\n');
    carry = parts.pop() ?? '';
    for (const line of parts) {
      const o = JSON.parse(line);
      for (const rl of o.resourceLogs ?? [])
        for (const sl of rl.scopeLogs ?? []) records += sl.logRecords?.length ?? 0;
    }
  }
  await handle.close();
} else {
  const { openLedgerStore } = await import('../dist/ledger/openStore.js');
  const { createSidecarMetrics } = await import('../dist/metrics.js');
  const { startIngestLoop } = await import('../dist/pipeline/ingestLoop.js');
  const { DEFAULT_LABEL_CAPS } = await import('../dist/pipeline/labelCaps.js');
  const { createPricer } = await import('@spendline/sdk/core');
  // As `spendline sidecar` runs: its heap setting, and a batch keeps the replay buffer's worth of
  // deltas (the default --stream-buffer) when no live-stream client listens.
  const { tuneHeapForCounting } = await import('../dist/heap.js');
  tuneHeapForCounting();
  const db = await openLedgerStore({
    url: ledgerUrl,
    stateDir,
    ...(ledgerUrl === undefined ? {} : { sidecarId: sidecarId ?? 'bench' }),
  });
  const metrics = createSidecarMetrics();
  const pricer = createPricer();
  // Startup (module loading, the price catalog) is not ingest: measure from here.
  pricer.priceUsage(
    {
      inputTokens: 1,
      outputTokens: 1,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      reasoningOutputTokens: 0,
    },
    { provider: 'openai', model: 'gpt-4o' },
  );
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  stall.enable();
  const loop = await startIngestLoop(db, metrics, pricer, {
    otlpGlobs: [file],
    jsonlGlobs: [],
    maxLineBytes: 16 * 1024 * 1024,
    batchBytes: Number(process.env.BATCH_BYTES ?? 16_777_216),
    batchRows: process.env.BATCH_ROWS === undefined ? undefined : Number(process.env.BATCH_ROWS),
    pollIntervalMs: 50,
    dedupWindowMs: 86_400_000,
    labelCaps: { ...DEFAULT_LABEL_CAPS },
    keepDeltas: () => 10_000,
    now: Date.now,
  });
  await loop.ready;
  await loop.stop();
  for (const s of metrics.counters.records.series.values()) if (s.values[1] === 'counted') records += s.total;
  await db.close();
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
stall.disable();
process.stdout.write(
  `${JSON.stringify({ mode, records, ms, startedAt: performance.timeOrigin + t0, endedAt: performance.timeOrigin + t0 + ms, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, maxStallMs: stall.max / 1e6 })}\n`,
);
