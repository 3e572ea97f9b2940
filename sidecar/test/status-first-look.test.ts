/// <reference lib="dom" />
/**
 * What a newcomer sees first: the status page of a fresh `spendline up` right after the demo, with
 * no bills imported (headless Chromium at 1400 and 420 px).
 */
import { mkdtempSync, rmSync } from 'node:fs';
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

describe('status page after the demo, no bills', () => {
  it('the untracked tile names the --billing flag unbroken, at 1400 and 420 px, with no console error', async () => {
    const executablePath = requireBinary('chromium');
    dir = mkdtempSync(join(tmpdir(), 'spendline-first-look-'));
    up = await startUpProcess(dir);
    const demo = await runDemo({
      endpoint: up.otlpUrl,
      requests: 20,
      rate: 0,
      seed: 1,
      serviceName: 'first-look',
    });
    const browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
    });
    try {
      for (const width of [1400, 420]) {
        const page = await browser.newPage({ viewport: { width, height: 900 } });
        const problems: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') problems.push(m.text());
        });
        page.on('pageerror', (e) => problems.push(e.message));
        await page.goto(`${up.sidecarUrl}/`);
        await page.waitForFunction(
          (calls) => document.getElementById('requests')?.textContent === String(calls),
          demo.calls,
          {
            timeout: 20_000,
          },
        );
        expect(await page.textContent('#untracked')).toBe('no bills');
        // The lines "--billing" is laid out on: one, or it no longer reads as a flag.
        const lines = await page.evaluate(() => {
          const note = document.getElementById('untracked-note') as HTMLElement;
          const walker = document.createTreeWalker(note, NodeFilter.SHOW_TEXT);
          const tops = new Set<number>();
          let found = false;
          for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
            const at = (n.textContent ?? '').indexOf('--billing');
            if (at < 0) continue;
            found = true;
            const range = document.createRange();
            range.setStart(n, at);
            range.setEnd(n, at + '--billing'.length);
            for (const r of Array.from(range.getClientRects())) if (r.width > 0) tops.add(Math.round(r.top));
          }
          return found ? tops.size : 0;
        });
        expect({ width, lines }).toEqual({ width, lines: 1 });
        expect(problems).toEqual([]);
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }, 90_000);
});
