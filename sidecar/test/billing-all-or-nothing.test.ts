import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importBillingFile } from '../src/billing/importBillingFile.js';
import { watchBillingFiles } from '../src/billing/watchBillingFiles.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';

let dir: string;
let db: LedgerStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-billing-aon-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

let mtime = 1_790_000_000;
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  mtime += 3600; // each file written later is a newer export
  utimesSync(path, mtime, mtime);
  return path;
}
const jsonl = (...rows: Record<string, unknown>[]) => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
const row = (cost: unknown, extra: Record<string, unknown> = {}) => ({
  date: '2026-09-01',
  provider: 'openai',
  cost_usd: cost,
  source: 'invoice',
  ...extra,
});
/** Everything the ledger holds about billing: a refused import must leave all of it unchanged. */
const ledgerState = async () => ({
  daily: await db.all('SELECT * FROM billing_daily ORDER BY provider, day, source'),
  files: await db.all('SELECT path, file_sha256 FROM billing_file ORDER BY path'),
  rejections: await db.all('SELECT * FROM billing_rejection'),
});

async function refused(path: string) {
  const r = await importBillingFile(db, path);
  if (r.ok) throw new Error(`expected ${path} to be refused`);
  return r;
}

const openAiPage = (buckets: { start: number; results: { value: unknown; currency: string }[] }[]) => ({
  object: 'page',
  data: buckets.map((b) => ({
    object: 'bucket',
    start_time: b.start,
    end_time: b.start + 86_400,
    results: b.results.map((r) => ({ object: 'organization.costs.result', amount: r })),
  })),
  has_more: false,
});
const DAY1 = 1788220800; // 2026-09-01T00:00:00Z

describe.each(LEDGER_BACKENDS)('billing import is all-or-nothing per file (issue 15 #5) (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  beforeEach(async () => {
    db = await ledgers.open();
  });

  it('a newer export with one bad row does not replace a stored $10 day with $4: ledger unchanged', async () => {
    expect((await importBillingFile(db, file('v1.jsonl', jsonl(row('10'))))).ok).toBe(true);
    const before = await ledgerState();
    const r = await refused(file('v2.jsonl', jsonl(row('4'), row('oops'))));
    expect(r.rejections).toEqual([{ location: 'line 2', reason: 'cost_usd: not a decimal number: "oops"' }]);
    expect(r.reason).toMatch(/1 row\(s\) rejected, so nothing from this file is imported/);
    expect(await ledgerState()).toEqual(before);
    expect(before.daily).toMatchObject([{ day: '2026-09-01', cost_nano_usd: 10_000_000_000 }]);
  });

  it('the --billing watcher (worker-thread read) refuses the same way and reports every rejection', async () => {
    expect((await importBillingFile(db, file('v1.jsonl', jsonl(row('10'))))).ok).toBe(true);
    const before = await ledgerState();
    file('v2.jsonl', jsonl(row('4'), row('-1'), row('1,5')));
    const watcher = watchBillingFiles(db, [join(dir, 'v2.jsonl')], { intervalMs: 3_600_000 });
    try {
      const [r] = await watcher.scan();
      expect(r?.ok).toBe(false);
      expect(r && !r.ok && r.rejections?.map((x) => x.location)).toEqual(['line 2', 'line 3']);
    } finally {
      watcher.stop();
    }
    expect(await ledgerState()).toEqual(before);
  });

  it('currencies other than USD are refused by name; an all-EUR export records no $0 day', async () => {
    const eur = await refused(
      file(
        'eur.json',
        JSON.stringify(
          openAiPage([
            {
              start: DAY1,
              results: [
                { value: 3.5, currency: 'eur' },
                { value: 1, currency: 'eur' },
              ],
            },
          ]),
        ),
      ),
    );
    expect(eur.rejections).toEqual([
      {
        location: 'data[0].results[0]',
        reason: 'currency "eur" is not USD: only USD exports are imported (no conversion is guessed)',
      },
      {
        location: 'data[0].results[1]',
        reason: 'currency "eur" is not USD: only USD exports are imported (no conversion is guessed)',
      },
    ]);
    const generic = await refused(file('gbp.jsonl', jsonl(row('3', { currency: 'GBP' }))));
    expect(generic.rejections?.[0]?.reason).toMatch(/^currency "GBP" is not USD/);
    expect((await ledgerState()).daily).toEqual([]);
    // USD spelled either way still imports.
    expect((await importBillingFile(db, file('usd.jsonl', jsonl(row('3', { currency: 'usd' }))))).ok).toBe(
      true,
    );
  });

  it('ambiguous decimal formats are refused; "1,234.50" (grouping plus a decimal point) is read exactly', async () => {
    for (const amount of ['10,00', '1.234,56', '1,234', '1,5', '12,34.5', '$10,00']) {
      const r = await refused(file('ambiguous.jsonl', jsonl(row(amount))));
      expect(r.rejections?.[0]?.reason, amount).toMatch(/^cost_usd: ambiguous amount/);
    }
    expect((await ledgerState()).daily).toEqual([]);
    const ok = await importBillingFile(db, file('grouped.jsonl', jsonl(row('1,234.50'), row('$2,000.25'))));
    expect(ok.ok).toBe(true);
    expect((await ledgerState()).daily).toMatchObject([{ cost_nano_usd: 3_234_750_000_000 }]);
  });

  it('the same page twice in a JSON array is detected, not summed (OpenAI and Anthropic)', async () => {
    const page = openAiPage([{ start: DAY1, results: [{ value: 5, currency: 'usd' }] }]);
    const r = await refused(file('openai-pages.json', JSON.stringify([page, page])));
    expect(r.rejections).toEqual([
      {
        location: '[1].data[0]',
        reason: `bucket ${DAY1} appears again (first at [0].data[0]): a page saved twice? nothing is summed twice`,
      },
    ]);
    const anthropicPage = {
      data: [
        {
          starting_at: '2026-09-01T00:00:00Z',
          ending_at: '2026-09-02T00:00:00Z',
          results: [{ currency: 'USD', amount: '500.0', cost_type: 'tokens' }],
        },
      ],
      has_more: false,
    };
    const a = await refused(file('anthropic-pages.json', JSON.stringify([anthropicPage, anthropicPage])));
    expect(a.rejections?.map((x) => x.location)).toEqual(['[1].data[0]']);
    expect((await ledgerState()).daily).toEqual([]);
    // Two different pages of one pull still import, each bucket once.
    const day2 = openAiPage([{ start: DAY1 + 86_400, results: [{ value: 2, currency: 'usd' }] }]);
    const ok = await importBillingFile(db, file('two-pages.json', JSON.stringify([page, day2])));
    expect(ok.ok && ok.daysWritten).toBe(2);
  });

  it('negative amounts are refused where the format defines no credit, with the reason', async () => {
    const cases: [string, string][] = [
      ['neg.jsonl', jsonl(row('-5'))],
      [
        'neg-openai.json',
        JSON.stringify(openAiPage([{ start: DAY1, results: [{ value: -5, currency: 'usd' }] }])),
      ],
      [
        'neg-anthropic.json',
        JSON.stringify({
          data: [
            {
              starting_at: '2026-09-01T00:00:00Z',
              ending_at: '2026-09-02T00:00:00Z',
              results: [{ currency: 'USD', amount: '-100.0' }],
            },
          ],
        }),
      ],
    ];
    for (const [name, text] of cases) {
      const r = await refused(file(name, text));
      expect(r.rejections?.[0]?.reason, name).toMatch(/negative amount .* refused/);
    }
    expect((await ledgerState()).daily).toEqual([]);
  });

  it('credits the format defines stay negative: AWS CUR Credit lines, Azure refunds, GCP credits', async () => {
    const cur = [
      'line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,line_item_currency_code,line_item_unblended_cost,product_product_family',
      'Usage,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,AmazonBedrock,USD,10,Amazon Bedrock',
      'Credit,2026-09-01T00:00:00Z,2026-09-02T00:00:00Z,AmazonBedrock,USD,-2.5,Amazon Bedrock',
    ];
    const ok = await importBillingFile(db, file('cur.csv', cur.join('\n')));
    expect(ok.ok).toBe(true);
    expect((await ledgerState()).daily).toMatchObject([
      { provider: 'aws.bedrock', cost_nano_usd: 7_500_000_000 },
    ]);
    const usageNegative = await refused(
      file(
        'cur-bad.csv',
        [cur[0], 'Usage,2026-09-02T00:00:00Z,2026-09-03T00:00:00Z,AmazonBedrock,USD,-1,Amazon Bedrock'].join(
          '\n',
        ),
      ),
    );
    expect(usageNegative.rejections?.[0]?.reason).toMatch(
      /^line_item_unblended_cost: negative amount "-1" refused/,
    );
    const azure = [
      'Date,MeterCategory,MeterSubCategory,CostInBillingCurrency,BillingCurrency,ChargeType',
      '09/01/2026,Cognitive Services,Azure OpenAI,4,USD,Usage',
      '09/01/2026,Cognitive Services,Azure OpenAI,-1,USD,Refund',
    ];
    expect((await importBillingFile(db, file('azure.csv', azure.join('\r\n')))).ok).toBe(true);
    expect(
      await db.get("SELECT cost_nano_usd AS n FROM billing_daily WHERE provider = 'azure.ai.openai'"),
    ).toEqual({ n: 3_000_000_000 });
  });
});
