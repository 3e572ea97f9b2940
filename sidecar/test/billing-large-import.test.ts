/**
 * A large export in a watched --billing glob is read off the event loop (issue 15 #11): while the
 * built sidecar imports a ~40 MB file, /healthz and /metrics keep answering.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { tempDir } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0)) c();
});

const ROWS = 400_000;

/** A generic JSONL export of ROWS rows (~40 MB), 2 cents each, spread over 30 days. */
async function writeLargeExport(path: string): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < ROWS; i++) {
    const day = String(1 + (i % 30)).padStart(2, '0');
    const ok = out.write(
      `{"date":"2026-09-${day}","provider":"openai","tokens_total":1200,"cost_usd":"0.02","source":"invoice","note":"row ${i} padding padding"}\n`,
    );
    if (!ok) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

describe.each(LEDGER_BACKENDS)('a large billing export does not block the sidecar (%s)', (kind) => {
  it('/healthz and /metrics keep answering while a ~40 MB export is imported', async () => {
    const ledger = kind === 'postgres' ? ['--ledger', await freshDatabaseUrl()] : [];
    const t = tempDir('spendline-large-billing-');
    cleanups.push(t.cleanup);
    const billing = join(t.dir, 'billing.jsonl');
    await writeLargeExport(billing);
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        CLI,
        'sidecar',
        '--otlp-file',
        join(t.dir, 'genai.json'),
        '--state-dir',
        join(t.dir, 'state'),
        '--listen',
        `127.0.0.1:${port}`,
        '--billing',
        billing,
        ...ledger,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(child);
    let stderr = '';
    let imported = false;
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (/billing: .*billing\.jsonl: /.test(stderr)) imported = true;
    });

    // The import starts as soon as the server listens. Ask continuously until its log line appears,
    // counting the answers that arrived before it (with the import on the event loop: almost none).
    let answeredDuringImport = 0;
    let attempts = 0;
    while (!imported && child.exitCode === null && attempts < 200_000) {
      attempts++;
      const path = attempts % 2 === 0 ? '/healthz' : '/metrics';
      try {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(60_000) });
        await res.arrayBuffer();
        if (res.status === 200 && !imported) answeredDuringImport++;
      } catch {
        await new Promise((r) => setTimeout(r, 5)); // not listening yet
      }
    }
    expect(imported, stderr).toBe(true);
    expect(stderr).toMatch(
      new RegExp(`billing\\.jsonl: generic_jsonl: ${ROWS} accepted, 0 ignored, 30 provider-days written`),
    );
    expect(answeredDuringImport).toBeGreaterThanOrEqual(20);
  }, 120_000);
});
