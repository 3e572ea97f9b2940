import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCsv } from '../src/billing/csv.js';
import { importBillingFile } from '../src/billing/importBillingFile.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';

// Synthetic exports in the shapes the providers document (see docs/reconciliation.md, "Sample exports").
const GCP_CSV = `billing_account_id,service.id,service.description,sku.id,sku.description,usage_start_time,usage_end_time,project.id,location.region,cost,currency,usage.amount,usage.unit,credits_total,invoice.month,cost_type
000000-SYNTH0-000001,SYNT-HETI-C001,Vertex AI,SYNT-SKU0-0001,SYNTHETIC Gemini 2.5 Flash input text,2026-09-01 07:00:00 UTC,2026-09-01 08:00:00 UTC,synthetic-project-1,us-central1,0.375,USD,1250000,count,-0.1,202609,regular
000000-SYNTH0-000001,SYNT-HETI-C001,Vertex AI,SYNT-SKU0-0002,SYNTHETIC Gemini 2.5 Flash output text,2026-09-01 07:00:00 UTC,2026-09-01 08:00:00 UTC,synthetic-project-1,us-central1,0.5,USD,200000,count,0,202609,regular
000000-SYNTH0-000001,SYNT-HETI-C002,Compute Engine,SYNT-SKU0-0009,SYNTHETIC N2 core,2026-09-01 07:00:00 UTC,2026-09-01 08:00:00 UTC,synthetic-project-1,us-central1,9.99,USD,1,hour,0,202609,regular
`;

const gcpRow = (
  sku: string,
  cost: number,
  credits: { amount: number }[],
  start = '2026-09-01 07:00:00 UTC',
) =>
  JSON.stringify({
    billing_account_id: '000000-SYNTH0-000001',
    service: { id: 'SYNT-HETI-C001', description: 'Vertex AI' },
    sku: { id: 'SYNT-SKU0-0001', description: sku },
    usage_start_time: start,
    usage_end_time: '2026-09-01 08:00:00 UTC',
    export_time: '2026-09-01 13:42:10.123456 UTC',
    cost,
    currency: 'USD',
    currency_conversion_rate: 1.0,
    usage: { amount: 1250000, unit: 'count' },
    credits: credits.map((c) => ({
      name: 'SYNTHETIC promo credit',
      amount: c.amount,
      full_name: null,
      id: 'SYNTHETIC-credit-1',
      type: 'PROMOTION',
    })),
    invoice: { month: '202609' },
    cost_type: 'regular',
  });
const GCP_JSONL = `${gcpRow('SYNTHETIC Gemini 2.5 Flash input text', 0.375, [{ amount: -0.1 }])}\n${gcpRow('SYNTHETIC Gemini 2.5 Flash output text', 0.5, [])}\n${gcpRow('SYNTHETIC late hour', 0.25, [], '2026-09-01 23:00:00 UTC')}\n`;

const GCP_COST_TABLE = `Billing account name,Billing account ID,Project name,Project ID,Project hierarchy,Service description,Service ID,SKU description,SKU ID,Consumption model description,Credit type,Cost type,Usage start date,Usage end date,Usage amount,Usage unit,Unrounded Cost ($),Cost ($)
SYNTHETIC billing account,000000-SYNTH0-000001,synthetic-project-1,synthetic-project-1,/SYNTHETIC-org/synthetic-project-1/,Vertex AI,SYNT-HETI-C001,SYNTHETIC Gemini 2.5 Flash input text,SYNT-SKU0-0001,Default,,Usage,2026-09-01,2026-09-30,1250000,count,0.375,0.38
SYNTHETIC billing account,000000-SYNTH0-000001,synthetic-project-1,synthetic-project-1,/SYNTHETIC-org/synthetic-project-1/,Vertex AI,SYNT-HETI-C001,"SYNTHETIC Gemini 2.5 Pro output text, long context",SYNT-SKU0-0003,Default,,Usage,2026-09-01,2026-09-30,"2,000,000",count,"1,234.5",1234.5
SYNTHETIC billing account,000000-SYNTH0-000001,synthetic-project-1,synthetic-project-1,/SYNTHETIC-org/synthetic-project-1/,Vertex AI,SYNT-HETI-C001,SYNTHETIC Gemini 2.5 Flash input text,SYNT-SKU0-0001,Default,PROMOTION,Usage,2026-09-01,2026-09-30,,,-0.1,-0.1
,,,,,,,,,,,Total,,,,,1234.775,1234.78
`;

const CUR_HEADER =
  'identity_time_interval,bill_billing_period_start_date,bill_payer_account_id,line_item_usage_account_id,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,line_item_usage_type,line_item_usage_amount,line_item_currency_code,line_item_unblended_rate,line_item_unblended_cost,product_product_family,product_region_code';
const curRow = (
  code: string,
  usageType: string,
  cost: string,
  family = 'Amazon Bedrock',
  start = '2026-09-01T00:00:00Z',
  end = '2026-09-02T00:00:00Z',
) =>
  `2026-09-01T00:00:00Z/2026-09-02T00:00:00Z,2026-09-01T00:00:00Z,000000000001,000000000002,Usage,${start},${end},${code},${usageType},1000,USD,0.000003,${cost},${family},us-east-1`;
const AWS_CUR = [
  CUR_HEADER,
  curRow('SYNTHETICmpcode0001', 'USE1-Claude4.6Sonnet-input-tokens', '3.114'),
  curRow('SYNTHETICmpcode0001', 'USE1-Claude4.6Sonnet-output-tokens', '1.8'),
  curRow('SYNTHETICmpcode0001', 'USE1-Claude4.6Sonnet-cache-read-input-token-count', '0.6'),
  curRow('AmazonBedrock', 'USE1-SYNTHETICModel-input-tokens', '0.075'),
  curRow('AmazonEC2', 'USE1-BoxUsage:m5.large', '12.5', 'Compute Instance'),
  curRow(
    'AmazonBedrock',
    'USE1-SYNTHETICModel-input-tokens',
    '40',
    'Amazon Bedrock',
    '2026-09-01T00:00:00Z',
    '2026-10-01T00:00:00Z',
  ),
].join('\n');

const AZURE_HEADER =
  'Date,BillingAccountId,BillingProfileId,SubscriptionId,SubscriptionName,ResourceGroup,ResourceId,MeterCategory,MeterSubCategory,MeterName,MeterId,UnitOfMeasure,Quantity,EffectivePrice,CostInBillingCurrency,BillingCurrency,ChargeType,PricingModel';
const azureRow = (date: string, meter: string, cost: string, sub = 'Azure OpenAI', currency = 'USD') =>
  `${date},SYNTHETIC-BA-0001,SYNTHETIC-BP-0001,00000000-0000-0000-0000-000000000001,synthetic-sub,synthetic-rg,/subscriptions/x/providers/Microsoft.CognitiveServices/accounts/synthetic-aoai,Cognitive Services,${sub},${meter},00000000-0000-0000-0000-0000000000a1,1K,1709.24,0.0025,${cost},${currency},Usage,On Demand`;
const AZURE_CSV = [
  AZURE_HEADER,
  azureRow('09/01/2026', 'gpt 4o 1120 Inp glbl Tokens', '4.2731'),
  azureRow('09/01/2026', 'gpt 4o 1120 Outp glbl Tokens', '3.12'),
  azureRow('09/01/2026', 'S1 Text Records', '1.5', 'Language'),
  azureRow('09/02/2026', 'gpt 4o 1120 Inp glbl Tokens', '2.00', 'Azure OpenAI', 'EUR'),
  azureRow('13/45/2026', 'gpt 4o 1120 Inp glbl Tokens', '1.00'),
].join('\r\n');

let dir: string;
let db: LedgerStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-billing-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function importText(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const r = await importBillingFile(db, path, 1_800_000_000_000);
  if (!r.ok) throw new Error(r.reason);
  return r;
}

async function importRefused(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const r = await importBillingFile(db, path, 1_800_000_000_000);
  if (r.ok) throw new Error('expected the file to be refused');
  return r;
}

function billed() {
  return db.all(
    'SELECT provider, day, source, cost_nano_usd AS nano, tokens_total AS tokens FROM billing_daily ORDER BY provider, day, source',
  );
}

describe.each(LEDGER_BACKENDS)(
  'billing import: cloud billing exports and generic JSONL (exact USD per UTC day) (%s)',
  (kind) => {
    const ledgers = testLedgers(kind);
    beforeEach(async () => {
      db = await ledgers.open();
    });

    it('GCP billing export CSV: net of negative credits, other services ignored', async () => {
      const r = await importText('gcp.csv', GCP_CSV);
      expect([r.format, r.accepted, r.ignored]).toEqual(['gcp_billing_export_csv', 2, 1]);
      expect(await billed()).toEqual([
        {
          provider: 'gcp.vertex_ai',
          day: '2026-09-01',
          source: 'gcp.billing_export',
          nano: 775_000_000,
          tokens: 0,
        },
      ]);
    });

    it('GCP billing export JSONL: credits[] summed, UTC day of usage_start_time', async () => {
      const r = await importText('gcp.jsonl', GCP_JSONL);
      expect([r.format, r.accepted]).toEqual(['gcp_billing_export_jsonl', 3]);
      expect(await billed()).toEqual([
        {
          provider: 'gcp.vertex_ai',
          day: '2026-09-01',
          source: 'gcp.billing_export',
          nano: 1_025_000_000,
          tokens: 0,
        },
      ]);
    });

    it('GCP cost table CSV: "," in numbers, credit rows negative, Total row ignored', async () => {
      const r = await importText('cost-table.csv', GCP_COST_TABLE);
      expect([r.format, r.accepted, r.ignored]).toEqual(['gcp_cost_table_csv', 3, 1]);
      expect(await billed()).toEqual([
        {
          provider: 'gcp.vertex_ai',
          day: '2026-09-01',
          source: 'gcp.cost_table',
          nano: 1_234_775_000_000,
          tokens: 0,
        },
      ]);
    });

    it('AWS CUR 2.0: Bedrock lines by product family (Marketplace codes too); month-long lines rejected', async () => {
      const bad = await importRefused('cur-monthly.csv', AWS_CUR);
      expect(bad.rejections).toEqual([
        {
          location: 'line 7',
          reason: 'usage period spans more than one UTC day (export CUR with hourly or daily granularity)',
        },
      ]);
      expect(await billed()).toEqual([]);
      const r = await importText('cur.csv', AWS_CUR.split('\n').slice(0, -1).join('\n'));
      expect([r.format, r.accepted, r.ignored]).toEqual(['aws_cur2_csv', 4, 1]);
      expect(await billed()).toEqual([
        { provider: 'aws.bedrock', day: '2026-09-01', source: 'aws.cur2', nano: 5_589_000_000, tokens: 0 },
      ]);
    });

    it('Azure cost export: MM/DD/YYYY dates, OpenAI meters only, non-USD and bad dates rejected by line', async () => {
      const bad = await importRefused('azure-bad.csv', AZURE_CSV);
      expect(bad.rejections).toEqual([
        {
          location: 'line 5',
          reason: 'currency "EUR" is not USD: only USD exports are imported (no conversion is guessed)',
        },
        { location: 'line 6', reason: 'Date: not a calendar date: 2026-13-45' },
      ]);
      expect(await billed()).toEqual([]);
      const r = await importText('azure.csv', AZURE_CSV.split('\r\n').slice(0, 4).join('\r\n'));
      expect([r.format, r.accepted, r.ignored]).toEqual(['azure_cost_csv', 2, 1]);
      expect(await billed()).toEqual([
        {
          provider: 'azure.ai.openai',
          day: '2026-09-01',
          source: 'azure.cost_export',
          nano: 7_393_100_000,
          tokens: 0,
        },
      ]);
    });

    it('generic JSONL: bad rows are listed with their line and reason and refuse the file; a clean file imports', async () => {
      const rows = [
        '{"date":"2026-09-01","provider":"openrouter","tokens_total":1200,"cost_usd":0.1,"usage_type":"llm","source":"openrouter.activity"}',
        '{"date":"2026-09-01","provider":"openrouter","tokens_total":800,"cost_usd":"0.2","usage_type":"llm","source":"openrouter.activity"}',
        '',
        '{"date":"2026-09-01","provider":"openrouter","cost_usd":"abc","source":"openrouter.activity"}',
        'not json',
        '{"date":"2026-02-30","provider":"openrouter","cost_usd":1,"source":"openrouter.activity"}',
        '{"date":"2026-09-02T23:59:59Z","provider":"mistral_ai","tokens_total":5,"cost_usd":1e-9}',
      ];
      const bad = await importRefused('generic-bad.jsonl', rows.join('\n'));
      expect(bad.rejections).toEqual([
        { location: 'line 4', reason: 'cost_usd: not a decimal number: "abc"' },
        { location: 'line 5', reason: 'not valid JSON' },
        { location: 'line 6', reason: 'date: not a calendar date: 2026-02-30' },
      ]);
      expect(await billed()).toEqual([]);
      expect(await db.get('SELECT count(*) AS n FROM billing_file')).toEqual({ n: 0 });
      const r = await importText('generic.jsonl', [rows[0], rows[1], rows[2], rows[6]].join('\n'));
      expect([r.format, r.accepted]).toEqual(['generic_jsonl', 3]);
      // 0.1 + 0.2 summed exactly (no float drift).
      expect(await billed()).toEqual([
        { provider: 'mistral_ai', day: '2026-09-02', source: 'jsonl', nano: 1, tokens: 5 },
        {
          provider: 'openrouter',
          day: '2026-09-01',
          source: 'openrouter.activity',
          nano: 300_000_000,
          tokens: 2000,
        },
      ]);
    });

    it('CSV reader: quoted commas, "" escapes, multi-line fields, CRLF; records keep the line they start on', async () => {
      expect(parseCsv('\ufeffa,b\r\n"x, ""y""",2\n"multi\nline",ab"c\n\n3,4')).toEqual([
        { line: 1, fields: ['a', 'b'] },
        { line: 2, fields: ['x, "y"', '2'] },
        { line: 3, fields: ['multi\nline', 'ab"c'] },
        { line: 6, fields: ['3', '4'] },
      ]);
    });
  },
);
