// Live stream latency: a sidecar (this process, built dist) tails a JSONL file while calls are
// appended at `rate` per second for `seconds`; one client follows GET /api/stream. For every usage
// event: commit -> event received (the event's committed_at to its arrival at the client), and
// write -> event received (the call's own timestamp is the time it was written; this includes the
// tail poll interval). Returns percentiles in ms. `ledgerUrl`: count into that PostgreSQL ledger
// (each event's total is read from it after the commit) instead of SQLite in a temp state dir.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function measureStreamLatency({ rate = 200, seconds = 10, ledgerUrl = undefined } = {}) {
  const { startSidecar, parseSidecarArgs } = await import('../dist/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'spendline-stream-bench-'));
  const file = join(dir, 'usage.jsonl');
  writeFileSync(file, '');
  const parsed = parseSidecarArgs(
    [
      '--usage-jsonl',
      file,
      '--state-dir',
      join(dir, 'state'),
      '--listen',
      '127.0.0.1:0',
      ...(ledgerUrl === undefined ? [] : ['--ledger', ledgerUrl]),
    ],
    {},
  );
  if (!parsed.ok || parsed.help) throw new Error('bad bench config');
  const sidecar = await startSidecar({ ...parsed.config, extensions: [] });
  const commitToEvent = [];
  const writeToEvent = [];
  const abort = new AbortController();
  try {
    await sidecar.ready;
    const res = await fetch(`${sidecar.url}/api/stream?service=bench`, { signal: abort.signal });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ done: true }));
        if (done) return;
        const now = Date.now();
        buf += value;
        let cut = buf.indexOf('\n\n');
        while (cut >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          cut = buf.indexOf('\n\n');
          if (!block.startsWith('event: usage')) continue;
          const data = JSON.parse(block.slice(block.indexOf('data: ') + 6));
          commitToEvent.push(now - Date.parse(data.committed_at));
          writeToEvent.push(now - Date.parse(data.at));
        }
      }
    })();
    const tickMs = 20;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const ticks = Math.round((seconds * 1000) / tickMs);
    let n = 0;
    for (let t = 0; t < ticks; t++) {
      const at = new Date().toISOString();
      let lines = '';
      for (let i = 0; i < perTick; i++, n++)
        lines += `${JSON.stringify({ ts: at, id: `bench-${n}`, provider: 'openai', model: 'gpt-4o-mini', service: 'bench', session_id: `s-${n % 97}`, user_id: `u-${n % 13}`, usage: { prompt_tokens: 100 + (n % 50), completion_tokens: 20 } })}\n`;
      appendFileSync(file, lines);
      await new Promise((r) => setTimeout(r, tickMs));
    }
    const deadline = Date.now() + 10_000;
    while (commitToEvent.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    abort.abort();
    await reading;
    if (commitToEvent.length !== n)
      throw new Error(`stream delivered ${commitToEvent.length} of ${n} events`);
    commitToEvent.sort((a, b) => a - b);
    writeToEvent.sort((a, b) => a - b);
    return {
      events: n,
      commit: {
        p50: percentile(commitToEvent, 50),
        p99: percentile(commitToEvent, 99),
        max: commitToEvent.at(-1),
      },
      write: {
        p50: percentile(writeToEvent, 50),
        p99: percentile(writeToEvent, 99),
        max: writeToEvent.at(-1),
      },
    };
  } finally {
    abort.abort();
    await sidecar.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`)
  console.log(
    await measureStreamLatency({
      rate: Number(process.argv[2] ?? 200),
      seconds: Number(process.argv[3] ?? 10),
      ledgerUrl: process.argv[4],
    }),
  );
