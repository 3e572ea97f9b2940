/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { requireBinary } from '../../test/support/prometheus.js';
import { runDemo } from '../src/demo/traffic.js';
import { startUpProcess, type UpProcess, waitForMetric } from './support/upProcess.js';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));

let dir: string | undefined;
let up: UpProcess | undefined;
afterEach(async () => {
  await up?.stop('SIGKILL');
  up = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Totals {
  requests: number;
  cost_usd: string;
  unpriced_requests: number;
}

// The page's own rounding, applied to the API's exact decimal: >= $1 two decimals, else 3-4.
function expectedMoney(usd: string): string {
  const [whole = '0', frac = ''] = usd.split('.');
  const nano = BigInt(whole) * 1_000_000_000n + BigInt(frac.padEnd(9, '0'));
  const decimals = nano >= 1_000_000_000n ? 2 : nano >= 10_000_000n ? 3 : 4;
  const unit = 10n ** BigInt(9 - decimals);
  const rounded = (nano + unit / 2n) / unit;
  const scale = 10n ** BigInt(decimals);
  return `$${(rounded / scale).toLocaleString('en-US')}.${(rounded % scale).toString().padStart(decimals, '0')}`;
}

describe('status page', () => {
  it('loads in headless Chromium, shows the demo numbers the ledger holds, and logs no console errors', async () => {
    const executablePath = requireBinary('chromium');
    dir = mkdtempSync(join(tmpdir(), 'spendline-status-'));
    up = await startUpProcess(dir);
    const demo = await runDemo({
      endpoint: up.otlpUrl,
      requests: 30,
      rate: 0,
      seed: 5,
      serviceName: 'status-test',
    });
    await waitForMetric(up.sidecarUrl, 'llm_requests_total', demo.calls);
    const overall = (await (await fetch(`${up.sidecarUrl}/api/usage/overall`)).json()) as { totals: Totals };

    const browser = await chromium.launch({
      executablePath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`${up.sidecarUrl}/`);
      await page.waitForFunction(
        () => document.getElementById('updated')?.textContent?.startsWith('updated'),
        null,
        { timeout: 15_000 },
      );

      expect(await page.textContent('#spend-month')).toBe(expectedMoney(overall.totals.cost_usd));
      expect(await page.textContent('#spend-today')).toBe(expectedMoney(overall.totals.cost_usd));
      expect(await page.textContent('#requests-today')).toBe(String(demo.calls));
      const modelRows = await page.$$eval('#by-model tbody tr td:first-child', (tds) =>
        tds.map((t) => t.textContent),
      );
      expect(new Set(modelRows)).toEqual(new Set(Object.keys(demo.byModel)));
      expect(await page.textContent('#pipeline')).toContain('ready');
      expect(await page.textContent('#unpriced')).toContain('every model seen this month has a price');
      // Demo traffic comes from the SDK over OTLP: no agent, no JSONL source (one "(none)" row each).
      for (const id of ['#by-agent', '#by-source'])
        expect(
          await page.$$eval(`${id} tbody tr td:first-child`, (tds) => tds.map((t) => t.textContent)),
        ).toEqual(['(none)']);
      // The SDK reports usage for every call (failed ones included): no call of unknown usage.
      expect(await page.textContent('#unknown-usage')).toContain(
        'every call seen this month reported its usage',
      );
      expect(await page.textContent('#untracked')).toBe('no bills');
      expect(await page.$$eval('#chart-hourly rect', (r) => r.length)).toBe(24);
      // The insights section renders what /api/insights answers (priced savings first).
      const insights = (await (await fetch(`${up.sidecarUrl}/api/insights?days_back=30`)).json()) as {
        insights: unknown[];
      };
      const insightRows = await page.$$eval('#insights tbody tr', (r) => r.length);
      expect(insightRows).toBe(Math.min(8, insights.insights.length));

      mkdirSync(SCREENSHOTS, { recursive: true });
      const shot = join(SCREENSHOTS, 'status-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
