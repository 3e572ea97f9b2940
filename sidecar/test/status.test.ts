/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBinary } from '../../test/support/prometheus.js';
import { runDemo } from '../src/demo/traffic.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import type { LedgerKind, LedgerStore } from '../src/ledger/store.js';
import { type LocalPipeline, startLocalPipeline } from '../src/up/localPipeline.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { waitForMetric } from './support/upProcess.js';

const SCREENSHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const DAY = 86_400;
const NOW_SEC = Math.floor(Date.now() / 1000);
const TODAY = NOW_SEC - (NOW_SEC % DAY);

// The page's one money format: 4 decimals, half up, "<$0.0001" for tiny non-zero amounts.
function money(nano: bigint): string {
  if (nano > 0n && nano < 50_000n) return '<$0.0001';
  const r = (nano + 50_000n) / 100_000n;
  return `$${(r / 10_000n).toLocaleString('en-US')}.${(r % 10_000n).toString().padStart(4, '0')}`;
}
function costText(nano: bigint, unpriced: number): string {
  if (unpriced > 0) return nano === 0n ? 'unpriced' : `${money(nano)} + unpriced`;
  return money(nano);
}

/** Historic calls over the last 40 days: several users, tenants, tasks, sessions; one unpriced model. */
function historicLines(): string {
  const lines: string[] = [];
  for (let i = 0; i < 160; i++) {
    const at = (TODAY - 39 * DAY + i * 6 * 3600 + 1800) * 1000;
    if (at > Date.now() - 3_600_000) break;
    const unpriced = i % 9 === 4;
    lines.push(
      JSON.stringify({
        ts: new Date(at).toISOString(),
        id: `hist-${i}`,
        provider: 'acme',
        model: unpriced
          ? 'acme-experimental'
          : `acme-${['small', 'large', 'vision-extended-context-2026'][i % 3]}`,
        service: ['checkout', 'support-bot', 'search'][i % 3],
        feature: ['summarize', 'classify', 'answer', ''][i % 4],
        user_id: `user-${i % 7}`,
        tenant_id: ['northwind', 'contoso', ''][i % 3],
        task_id: i % 2 === 0 ? `task-${i % 5}` : '',
        session_id: `session-${Math.floor(i / 3)}`,
        agent: ['planner', '', 'writer'][i % 3],
        usage: { prompt_tokens: 1000 + i * 17, completion_tokens: 200 + i },
        ...(unpriced ? {} : { cost_usd: ((2_000_000 + i * 123_457) / 1e9).toFixed(9) }),
        duration_ms: 200 + (i % 10) * 150,
        ...(i % 13 === 0 ? { error_type: 'RateLimitError' } : {}),
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

const HISTORIC = historicLines();

const RANGES = {
  today: { from: TODAY, to: TODAY + DAY },
  '7d': { from: TODAY - 6 * DAY, to: TODAY + DAY },
  '30d': { from: TODAY - 29 * DAY, to: TODAY + DAY },
  month: (() => {
    const d = new Date(TODAY * 1000);
    return { from: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000, to: TODAY + DAY };
  })(),
  custom: { from: TODAY - 35 * DAY, to: TODAY - 10 * DAY + DAY },
} as const;
type RangeName = keyof typeof RANGES;
const DIMS = ['model', 'service', 'feature', 'user', 'tenant', 'task', 'session', 'agent', 'source'] as const;

let dir: string;
let pipeline: LocalPipeline;
let ledger: LedgerStore;
let browser: Browser;

/** `spendline up` in-process on a ledger of `kind` with the historic calls and demo traffic, and Chromium. */
function setUp(kind: LedgerKind): void {
  beforeAll(async () => {
    const executablePath = requireBinary('chromium');
    dir = mkdtempSync(join(tmpdir(), 'spendline-status-'));
    const usage = join(dir, 'history.jsonl');
    writeFileSync(usage, HISTORIC);
    const budgets = join(dir, 'budgets.yaml');
    writeFileSync(budgets, 'budgets:\n  - name: monthly-total\n    period: month\n    limit_usd: 5\n');
    const ledgerUrl = kind === 'postgres' ? await freshDatabaseUrl() : undefined;
    pipeline = await startLocalPipeline({
      stateDir: join(dir, 'state'),
      otlpListen: { host: '127.0.0.1', port: 0 },
      listen: { host: '127.0.0.1', port: 0 },
      sidecarArgs: [
        '--usage-jsonl',
        usage,
        '--budgets',
        budgets,
        '--poll-interval',
        '100ms',
        ...(ledgerUrl === undefined ? [] : ['--ledger', ledgerUrl]),
      ],
      rotateBytes: 100 * 1024 * 1024,
      log: () => undefined,
    });
    await pipeline.sidecar.ready;
    const demo = await runDemo({
      endpoint: pipeline.otlpUrl,
      requests: 20,
      rate: 0,
      seed: 5,
      serviceName: 'status-test',
    });
    await waitForMetric(
      pipeline.sidecarUrl,
      'llm_requests_total',
      demo.calls + HISTORIC.trim().split('\n').length,
    );
    ledger = await openLedgerStore({ url: ledgerUrl, stateDir: join(dir, 'state') });
    browser = await chromium.launch({
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
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await ledger?.close();
    await pipeline?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
}

// ---- what the ledger says, read directly with SQL
interface Sums {
  cost: bigint;
  unpriced: number;
  requests: number;
  tokens: number;
}
async function ledgerTotals(r: { from: number; to: number }): Promise<Sums> {
  const row = (await ledger.get<Record<string, bigint | null>>(
    `SELECT SUM(cost_nano_usd) AS cost, SUM(unpriced_requests) AS unpriced, SUM(requests) AS requests,
       SUM(input_tokens + cache_read_tokens + cache_write_tokens + output_tokens + reasoning_tokens) AS tokens
     FROM usage_rollup WHERE bucket_start >= ? AND bucket_start < ?`,
    [r.from, r.to],
    { bigint: true },
  )) as Record<string, bigint | null>;
  return {
    cost: row.cost ?? 0n,
    unpriced: Number(row.unpriced ?? 0n),
    requests: Number(row.requests ?? 0n),
    tokens: Number(row.tokens ?? 0n),
  };
}

/** Ties in byte order of the key, as the API lists them on both ledgers. */
const byteOrder = (col: string) => (ledger.kind === 'postgres' ? `${col} COLLATE "C"` : col);

async function ledgerTop(
  dim: (typeof DIMS)[number],
  r: { from: number; to: number },
  search = '',
): Promise<string[][]> {
  const like = `%${search}%`;
  let rows: Record<string, bigint | string>[];
  if (dim === 'session') {
    rows = await ledger.all<Record<string, bigint | string>>(
      `SELECT key, exact_cost_nano_usd + estimated_cost_nano_usd AS cost, unpriced_requests AS unpriced FROM usage_total
       WHERE kind = 'session' AND last_seen_ms >= ? AND first_seen_ms < ? AND key ${ledger.dialect.like} ?
       ORDER BY cost DESC, ${byteOrder('key')} LIMIT 10`,
      [r.from * 1000, r.to * 1000, like],
      { bigint: true },
    );
  } else {
    const principal = dim === 'user' || dim === 'task';
    const col = principal ? 'principal_id' : dim === 'tenant' ? 'tenant_id' : dim;
    rows = await ledger.all<Record<string, bigint | string>>(
      `SELECT ${col} AS key, SUM(cost_nano_usd) AS cost, SUM(unpriced_requests) AS unpriced
       FROM ${principal ? 'usage_rollup_principal' : 'usage_rollup'}
       WHERE bucket_start >= ? AND bucket_start < ? ${principal ? `AND principal_kind = '${dim}'` : ''} AND ${col} ${ledger.dialect.like} ?
       GROUP BY ${col} ORDER BY cost DESC, ${byteOrder(col)} LIMIT 10`,
      [r.from, r.to, like],
      { bigint: true },
    );
  }
  return rows.map((x) => [
    x.key === '' ? '(none)' : String(x.key),
    costText(BigInt(x.cost as bigint), Number(x.unpriced)),
  ]);
}

// ---- driving the page
async function refreshCount(page: Page): Promise<number> {
  return Number((await page.getAttribute('body', 'data-refreshes')) ?? 0);
}
async function afterRefresh(page: Page, act: () => Promise<void>): Promise<void> {
  const before = await refreshCount(page);
  await act();
  await page.waitForFunction((n) => Number(document.body.dataset.refreshes ?? 0) > n, before, {
    timeout: 15_000,
  });
}
async function chooseRange(page: Page, name: RangeName): Promise<void> {
  if (name === 'custom') {
    await page.click('[data-range="custom"]');
    await page.fill('#custom-from', new Date(RANGES.custom.from * 1000).toISOString().slice(0, 10));
    await page.fill('#custom-to', new Date((RANGES.custom.to - DAY) * 1000).toISOString().slice(0, 10));
    await afterRefresh(page, () => page.click('#custom button[type="submit"]'));
  } else await afterRefresh(page, () => page.click(`[data-range="${name}"]`));
}
async function breakdownRows(page: Page, dim: string, range: { from: number; to: number }, search = '') {
  await page.waitForFunction(
    (key) => document.getElementById('breakdown')?.dataset.key === key,
    `${dim}|${range.from}|${range.to}|${search}`,
    { timeout: 15_000 },
  );
  return await page.$$eval('#breakdown tbody tr', (trs) =>
    trs.map((tr) => {
      const cells = Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '');
      return [cells[0] ?? '', cells[3] ?? ''];
    }),
  );
}

/** Elements sticking out of the viewport on the right (the page would scroll sideways). */
async function overflow(page: Page): Promise<string[]> {
  return await page.evaluate(() => {
    const out: string[] = [];
    if (document.documentElement.scrollWidth > document.documentElement.clientWidth)
      out.push(`document ${document.documentElement.scrollWidth} > ${document.documentElement.clientWidth}`);
    for (const e of Array.from(document.body.querySelectorAll('*'))) {
      const r = e.getBoundingClientRect();
      if (r.width > 0 && r.right > window.innerWidth + 1 && !e.closest('details:not([open])'))
        out.push(
          `${e.closest('section')?.querySelector('h2')?.textContent}: ${e.tagName.toLowerCase()}#${e.id}.${e.className} right=${Math.round(r.right)}`,
        );
    }
    // Nothing sticks out of its card either (a table wider than its panel).
    for (const card of Array.from(document.querySelectorAll('.panel, .tile'))) {
      const edge = card.getBoundingClientRect().right;
      for (const e of Array.from(card.querySelectorAll('*'))) {
        const r = e.getBoundingClientRect();
        if (r.width > 0 && r.right > edge + 1 && !e.closest('details:not([open])'))
          out.push(
            `${card.querySelector('h2')?.textContent}: ${e.tagName.toLowerCase()} sticks out by ${Math.round(r.right - edge)}`,
          );
      }
    }
    return out.slice(0, 10);
  });
}

/** Identifier cells whose text wraps onto a second line, or (when `cut` is asked) does not show in full. */
async function wrappedIdentifiers(page: Page, cut: boolean): Promise<string[]> {
  return await page.evaluate((checkCut) => {
    const out: string[] = [];
    for (const td of Array.from(document.querySelectorAll<HTMLElement>('td.id'))) {
      if (td.offsetParent === null) continue;
      const range = document.createRange();
      range.selectNodeContents(td);
      const lines = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
      if (lines.size > 1) out.push(`wraps: ${td.textContent}`);
      if (checkCut && td.scrollWidth > td.clientWidth + 1)
        out.push(`cut: ${td.textContent} in ${td.closest('section')?.querySelector('h2')?.textContent}`);
    }
    return out;
  }, cut);
}

describe.each(LEDGER_BACKENDS)('status page (the laptop dashboard) (%s)', (kind) => {
  setUp(kind);
  for (const width of [1400, 420]) {
    it(`at ${width} px: every range and breakdown equals the ledger, no sideways scroll, no wrapped identifiers, works under a strict CSP`, async () => {
      const page = await browser.newPage({ viewport: { width, height: 1000 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      // The page must work under the strictest policy the server may send (no inline script or style).
      await page.route(
        (url) => url.pathname === '/',
        async (route) => {
          const res = await route.fetch();
          await route.fulfill({
            response: res,
            headers: { ...res.headers(), 'content-security-policy': "default-src 'self'" },
          });
        },
      );
      try {
        await page.goto(`${pipeline.sidecarUrl}/`);
        await page.waitForFunction(() => Number(document.body.dataset.refreshes ?? 0) >= 1, null, {
          timeout: 20_000,
        });
        for (const name of Object.keys(RANGES) as RangeName[]) {
          const range = RANGES[name];
          if (name !== 'today') await chooseRange(page, name);
          const want = await ledgerTotals(range);
          expect(await page.textContent('#spend'), name).toBe(costText(want.cost, want.unpriced));
          expect(await page.textContent('#requests'), name).toBe(want.requests.toLocaleString('en-US'));
          expect(await page.textContent('#tokens'), name).toBe(want.tokens.toLocaleString('en-US'));
          // The chart's table equals the ledger per period, and sums to the range.
          const periods = await page.$$eval('#chart-table tbody tr', (trs) => trs.length);
          expect(periods, name).toBeGreaterThan(0);
          for (const dim of DIMS) {
            await page.click(`[data-dim="${dim}"]`);
            expect(await breakdownRows(page, dim, range), `${name} by ${dim}`).toEqual(
              await ledgerTop(dim, range),
            );
          }
          await page.click('[data-dim="model"]');
        }
        // Search finds beyond the top rows.
        await chooseRange(page, '30d');
        await page.click('[data-dim="user"]');
        await page.fill('#search', 'user-3');
        expect(await breakdownRows(page, 'user', RANGES['30d'], 'user-3')).toEqual(
          await ledgerTop('user', RANGES['30d'], 'user-3'),
        );
        await page.fill('#search', '');
        await page.click('[data-dim="model"]');
        await breakdownRows(page, 'model', RANGES['30d']);
        // Latency, errors, unpriced calls, budgets and the pipeline explanation are there.
        expect(await page.$$eval('#latency tbody tr', (r) => r.length)).toBeGreaterThan(0);
        expect(await page.textContent('#errors-by-type')).toContain('RateLimitError');
        expect(await page.textContent('#quality')).toContain('acme-experimental');
        expect(await page.textContent('#budgets')).toContain('monthly-total');
        expect(await page.textContent('.panel:has(#pipeline)')).toContain('as a log event and as a span');
        // The pipeline panel's committed figures (/api/pipeline): every call counted once.
        const counted = await page.$$eval(
          '#pipeline tr',
          (trs) =>
            trs.find((tr) => tr.textContent?.startsWith('usage records counted'))?.lastElementChild
              ?.textContent,
        );
        expect(counted).toBe((await ledgerTotals({ from: 0, to: 2 ** 31 })).requests.toLocaleString('en-US'));

        mkdirSync(SCREENSHOTS, { recursive: true });
        const shot = join(SCREENSHOTS, `status-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        expect(statSync(shot).size).toBeGreaterThan(10_000);
        expect(await overflow(page)).toEqual([]);
        expect(await wrappedIdentifiers(page, width >= 1400)).toEqual([]);
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    }, 180_000);
  }

  it('shows a call within 2 s of it being made, without reload or polling', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    const apiRequests: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/api/usage')) apiRequests.push(r.url());
    });
    try {
      await page.goto(`${pipeline.sidecarUrl}/`);
      await page.waitForFunction(() => document.getElementById('live')?.textContent === 'live', null, {
        timeout: 20_000,
      });
      await page.waitForFunction(() => Number(document.body.dataset.refreshes ?? 0) >= 1, null, {
        timeout: 20_000,
      });
      const before = Number((await page.textContent('#requests'))?.replace(/,/g, ''));
      // Quiet: without calls the page asks nothing (no polling).
      apiRequests.length = 0;
      await page.waitForTimeout(1500);
      expect(apiRequests).toEqual([]);
      const demo = await runDemo({
        endpoint: pipeline.otlpUrl,
        requests: 1,
        rate: 0,
        seed: 77,
        serviceName: 'status-live',
      });
      await page.waitForFunction(
        (n) => Number(document.getElementById('requests')?.textContent?.replace(/,/g, '')) === n,
        before + demo.calls,
        { timeout: 2000 },
      );
      const want = await ledgerTotals(RANGES.today);
      expect(await page.textContent('#requests')).toBe(want.requests.toLocaleString('en-US'));
      expect(await page.textContent('#spend')).toBe(costText(want.cost, want.unpriced));
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
