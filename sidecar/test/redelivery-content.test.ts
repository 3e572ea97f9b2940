/**
 * The same call (same `spendline.usage.id`) delivered again with DIFFERENT content (other token counts):
 * the first copy committed is the call; every later copy within --dedup-window is a `duplicate` and
 * changes nothing, in the same batch, in a later batch and after a restart. Past the window the key is
 * forgotten and a copy counts again. Real files, real ledgers (SQLite and PostgreSQL).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerKind } from '../src/ledger/store.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import {
  ledgerTotals,
  recordCounts,
  registryTotals,
  runUntilCaughtUp,
  tempDir,
} from './support/sidecarHarness.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const T0 = Date.UTC(2026, 10, 30, 12);

/** One usage event of this SDK's shape: `id`, its input and output tokens, at `atMs`. */
function usageLine(id: string, input: number, output: number, atMs = T0): string {
  const attr = (key: string, value: Record<string, unknown>) => ({ key, value });
  return `${JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [attr('service.name', { stringValue: 'svc' })] },
        scopeLogs: [
          {
            scope: { name: '@spendline/sdk' },
            logRecords: [
              {
                timeUnixNano: `${atMs}000000`,
                eventName: 'gen_ai.client.inference.operation.details',
                attributes: [
                  attr('gen_ai.provider.name', { stringValue: 'openai' }),
                  attr('gen_ai.request.model', { stringValue: 'gpt-4o' }),
                  attr('spendline.usage.id', { stringValue: id }),
                  attr('gen_ai.usage.input_tokens', { intValue: String(input) }),
                  attr('gen_ai.usage.output_tokens', { intValue: String(output) }),
                ],
              },
            ],
          },
        ],
      },
    ],
  })}\n`;
}

async function setup(kind: LedgerKind) {
  const t = tempDir('spendline-redeliver-');
  cleanups.push(t.cleanup);
  const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
  const state = join(t.dir, 'state');
  const live = join(t.dir, 'genai.json');
  return { state, live, ledgerUrl };
}

describe.each(LEDGER_BACKENDS)('a usage id redelivered with different content (%s)', (kind) => {
  it('counts the first copy and only it, within a batch, across batches and restarts', async () => {
    const s = await setup(kind);
    const run = (now = () => T0 + 60_000) =>
      runUntilCaughtUp(s.state, {
        otlpGlobs: [s.live],
        ledgerUrl: s.ledgerUrl,
        now,
        dedupWindowMs: 3_600_000,
      });
    // Two copies of call "a" in one batch: the first in the file wins.
    writeFileSync(s.live, usageLine('a', 100, 10) + usageLine('a', 5_000, 500));
    const first = await run();
    expect(registryTotals(first).tokens).toMatchObject({ input: 100, output: 10 });
    expect(recordCounts(first)).toEqual({ counted: 1, duplicate: 1 });
    // A later copy, in a later life: a duplicate; the committed figures stand.
    appendFileSync(s.live, usageLine('a', 1, 1));
    const second = await run();
    expect(registryTotals(second).tokens).toMatchObject({ input: 100, output: 10 });
    expect(recordCounts(second)).toEqual({ counted: 1, duplicate: 2 });
    expect((await ledgerTotals(s.state, s.ledgerUrl)).tokens).toMatchObject({ input: 100, output: 10 });
    // Past the dedup window the key is forgotten: a copy is a new call.
    appendFileSync(s.live, usageLine('a', 7, 3, T0 + 2 * 3_600_000));
    const third = await run(() => T0 + 2 * 3_600_000 + 60_000);
    expect(recordCounts(third)).toEqual({ counted: 2, duplicate: 2 });
    expect((await ledgerTotals(s.state, s.ledgerUrl)).tokens).toMatchObject({ input: 107, output: 13 });
  });
});
