import { type CsvRecord, headerIndex, parseCsv } from './csv.js';
import { gcpProviderOf, isAzureOpenAiMeter, isBedrockLine } from './providers.js';
import { type BilledLine, emptyParse, type ParsedExport } from './types.js';
import {
  isUsd,
  notUsd,
  type Parsed,
  parseDay,
  parseUsdNano,
  parseUtcInstantMs,
  utcDayOfMs,
} from './values.js';

/** CUR line item types that are credits, refunds or discounts: their cost is negative by definition. */
function isCurCreditType(type: string | undefined): boolean {
  const t = type?.trim() ?? '';
  return t === 'Credit' || t === 'Refund' || t === 'SavingsPlanNegation' || t.endsWith('Discount');
}

type Cell = (name: string) => string | undefined;
/** Reads one data row: returns a billed line, 'ignored' (not AI spend), or a rejection reason. */
type RowReader = (cell: Cell) => BilledLine | 'ignored' | { reason: string };

/** Shared CSV driver: header, column-count check, file line numbers in rejections. */
function readCsvRows(text: string, required: string[], read: RowReader, out: ParsedExport): void {
  const records = parseCsv(text);
  const header = records[0];
  if (header === undefined) return;
  const col = headerIndex(header.fields);
  const missing = required.filter((name) => col(name) === undefined);
  if (missing.length > 0) {
    out.rejections.push({
      location: `line ${header.line}`,
      reason: `header lacks column(s): ${missing.join(', ')}`,
    });
    return;
  }
  for (const rec of records.slice(1) as CsvRecord[]) {
    const loc = `line ${rec.line}`;
    if (rec.fields.length !== header.fields.length) {
      out.rejections.push({
        location: loc,
        reason: `expected ${header.fields.length} fields, got ${rec.fields.length}`,
      });
      continue;
    }
    const cell: Cell = (name) => {
      const i = col(name);
      return i === undefined ? undefined : rec.fields[i];
    };
    const result = read(cell);
    if (result === 'ignored') out.ignored++;
    else if ('reason' in result) out.rejections.push({ location: loc, reason: result.reason });
    else out.lines.push(result);
  }
}

function fail<T>(field: string, r: Parsed<T>): { reason: string } | undefined {
  return r.ok ? undefined : { reason: `${field}: ${r.reason}` };
}

/** GCP BigQuery export flattened to CSV (dotted headers; `credits_total` = SUM(credits.amount), negative). */
export function parseGcpExportCsv(text: string): ParsedExport {
  const out = emptyParse();
  readCsvRows(
    text,
    ['service.description', 'usage_start_time', 'cost', 'currency'],
    (cell) => {
      const provider = gcpProviderOf(cell('service.description'));
      if (provider === undefined) return 'ignored';
      if (!isUsd(cell('currency'))) return notUsd(cell('currency'));
      const start = parseUtcInstantMs(cell('usage_start_time'));
      const cost = parseUsdNano(cell('cost'));
      const creditsCell = cell('credits_total')?.trim() ?? '';
      const credits =
        creditsCell === '' ? ({ ok: true, value: 0 } as const) : parseUsdNano(creditsCell, 'credit');
      const bad = fail('usage_start_time', start) ?? fail('cost', cost) ?? fail('credits_total', credits);
      if (bad || !start.ok || !cost.ok || !credits.ok) return bad ?? { reason: 'unreadable row' };
      const exported = parseUtcInstantMs(cell('export_time'));
      if (exported.ok) out.exportTimeMs = Math.max(out.exportTimeMs ?? 0, exported.value);
      return {
        provider,
        day: utcDayOfMs(start.value),
        source: 'gcp.billing_export',
        costNano: cost.value + credits.value,
        tokens: 0,
      };
    },
    out,
  );
  return out;
}

/**
 * GCP console cost table download. Credits are their own rows (negative cost); the trailing
 * `Cost type = Total` row is ignored. Dates are the console's (US Pacific) days: see docs/reconciliation.md.
 */
export function parseGcpCostTableCsv(text: string): ParsedExport {
  const out = emptyParse();
  const headerLine = parseCsv(text.split(/\r?\n/, 1)[0] ?? '')[0]?.fields ?? [];
  const costHeader =
    headerLine.find((h) => /^unrounded cost \(/i.test(h.trim())) ??
    headerLine.find((h) => /^cost \(/i.test(h.trim()));
  if (costHeader === undefined) {
    out.rejections.push({ location: 'line 1', reason: 'header lacks "Unrounded Cost (…)" / "Cost (…)"' });
    return out;
  }
  const usd = /\(\s*\$\s*\)|\(\s*USD\s*\)/i.test(costHeader);
  readCsvRows(
    text,
    ['Service description', 'Usage start date', 'Cost type'],
    (cell) => {
      if (cell('Cost type')?.trim().toLowerCase() === 'total') return 'ignored';
      const provider = gcpProviderOf(cell('Service description'));
      if (provider === undefined) return 'ignored';
      if (!usd) return { reason: `cost column ${JSON.stringify(costHeader)} is not in USD` };
      const day = parseDay(cell('Usage start date'));
      // A promotion or other credit is its own row with a "Credit type"; only such rows may be negative.
      const isCredit = (cell('Credit type')?.trim() ?? '') !== '';
      const cost = parseUsdNano(cell(costHeader), isCredit ? 'credit' : 'charge');
      const bad = fail('Usage start date', day) ?? fail(costHeader, cost);
      if (bad || !day.ok || !cost.ok) return bad ?? { reason: 'unreadable row' };
      return { provider, day: day.value, source: 'gcp.cost_table', costNano: cost.value, tokens: 0 };
    },
    out,
  );
  return out;
}

/**
 * AWS CUR 2.0, Bedrock lines only. The day is the UTC day of `line_item_usage_start_date`; a line
 * whose usage period spans more than one UTC day (monthly granularity) cannot be reconciled per day.
 */
export function parseAwsCur2Csv(text: string): ParsedExport {
  const out = emptyParse();
  readCsvRows(
    text,
    ['line_item_usage_start_date', 'line_item_unblended_cost', 'line_item_currency_code'],
    (cell) => {
      if (!isBedrockLine(cell('product_product_family'), cell('line_item_product_code'))) return 'ignored';
      if (!isUsd(cell('line_item_currency_code'))) return notUsd(cell('line_item_currency_code'));
      const start = parseUtcInstantMs(cell('line_item_usage_start_date'));
      const cost = parseUsdNano(
        cell('line_item_unblended_cost'),
        isCurCreditType(cell('line_item_line_item_type')) ? 'credit' : 'charge',
      );
      const bad = fail('line_item_usage_start_date', start) ?? fail('line_item_unblended_cost', cost);
      if (bad || !start.ok || !cost.ok) return bad ?? { reason: 'unreadable row' };
      const endText = cell('line_item_usage_end_date');
      const end = endText ? parseUtcInstantMs(endText) : undefined;
      const dayStart = start.value - (start.value % 86_400_000);
      if (end?.ok && end.value > dayStart + 86_400_000) {
        return {
          reason: 'usage period spans more than one UTC day (export CUR with hourly or daily granularity)',
        };
      }
      return {
        provider: 'aws.bedrock',
        day: utcDayOfMs(start.value),
        source: 'aws.cur2',
        costNano: cost.value,
        tokens: 0,
      };
    },
    out,
  );
  return out;
}

/** Azure cost details CSV (MCA `CostInBillingCurrency`/`BillingCurrency`; EA/PAYG `Cost`/`Currency`), OpenAI meters. */
export function parseAzureCostCsv(text: string): ParsedExport {
  const out = emptyParse();
  readCsvRows(
    text,
    ['Date', 'MeterCategory'],
    (cell) => {
      if (!isAzureOpenAiMeter(cell('MeterCategory'), cell('MeterSubCategory'))) return 'ignored';
      const currency = cell('BillingCurrency') ?? cell('Currency') ?? cell('BillingCurrencyCode');
      if (!isUsd(currency)) return notUsd(currency);
      const day = parseDay(cell('Date'));
      const cost = parseUsdNano(
        cell('CostInBillingCurrency') ?? cell('Cost') ?? cell('PreTaxCost'),
        cell('ChargeType')?.trim() === 'Refund' ? 'credit' : 'charge',
      );
      const bad = fail('Date', day) ?? fail('CostInBillingCurrency', cost);
      if (bad || !day.ok || !cost.ok) return bad ?? { reason: 'unreadable row' };
      return {
        provider: 'azure.ai.openai',
        day: day.value,
        source: 'azure.cost_export',
        costNano: cost.value,
        tokens: 0,
      };
    },
    out,
  );
  return out;
}
