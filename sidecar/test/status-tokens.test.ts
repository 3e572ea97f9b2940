/// <reference lib="dom" />
/**
 * The status page's reconciliation table shows billed vs tracked tokens next to dollars when a
 * billing export carries token totals (headless Chromium against `spendline up`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { requireBinary } from '../../test/support/prometheus.js';
import { runDemo } from '../src/demo/traffic.js';
import { startUpProcess, type UpProcess } from './support/upProcess.js';

let dir: string | undefined;
let up: UpProcess | undefined;
afterEach(async () => {
  await up?.stop('SIGKILL');
  up = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('status page: token reconciliation', () => {
  it('puts billed vs tracked tokens in the reconciliation table', async () => {
    const executablePath = requireBinary('chromium');
    dir = mkdtempSync(join(tmpdir(), 'spendline-status-tokens-'));
    const today = new Date().toISOString().slice(0, 10);
    writeFileSync(
      join(dir, 'bill.jsonl'),
      `${JSON.stringify({ date: today, provider: 'openai', tokens_total: 1_234_567, cost_usd: '2.50', source: 'invoice' })}\n`,
    );
    up = await startUpProcess(join(dir, 'state'), ['--billing', join(dir, 'bill.jsonl')]);
    const demo = await runDemo({
      endpoint: up.otlpUrl,
      requests: 20,
      rate: 0,
      seed: 9,
      serviceName: 'tokens-test',
    });
    const sidecarUrl = up.sidecarUrl;
    // Every demo call counted (the ledger, which the page reads), then the reconciliation it shows.
    for (let i = 0; i < 150; i++) {
      const overall = (await (await fetch(`${sidecarUrl}/api/usage/overall`)).json()) as {
        totals: { requests: number };
      };
      if (overall.totals.requests === demo.calls) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    type Day = { provider: string; day: string; tracked_tokens: number; billed_tokens: number | null };
    const recon = (await (await fetch(`${sidecarUrl}/api/reconciliation?days=7`)).json()) as { days: Day[] };
    const openai = recon.days.find((d) => d.provider === 'openai' && d.day === today);
    expect(openai?.billed_tokens).toBe(1_234_567);
    expect(openai?.tracked_tokens).toBeGreaterThan(0);

    const browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${sidecarUrl}/`);
      // The reconciliation table's row for today's openai bill: billed vs tracked tokens beside dollars.
      const want = `1,234,567 / ${(openai?.tracked_tokens ?? 0).toLocaleString('en-US')}`;
      await page.waitForFunction(
        (text) =>
          Array.from(document.querySelectorAll('#reconciliation tbody tr')).some(
            (tr) => tr.textContent?.includes('openai') && tr.textContent.includes(text),
          ),
        want,
        { timeout: 15_000 },
      );
      const header = await page.textContent('#reconciliation thead');
      expect(header).toContain('tokens billed / tracked');
    } finally {
      await browser.close();
    }
  }, 90_000);
});
