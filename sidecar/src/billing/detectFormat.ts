import { parseCsv } from './csv.js';
import {
  parseAwsCur2Csv,
  parseAzureCostCsv,
  parseGcpCostTableCsv,
  parseGcpExportCsv,
} from './parseCsvExports.js';
import { parseGcpExportJsonl, parseGenericJsonl } from './parseJsonl.js';
import { parseAnthropicCostReport, parseOpenAiCosts, parseOpenRouterActivity } from './parseProviderApis.js';
import type { BillingFormat, ParsedExport } from './types.js';
import { isRecord } from './values.js';

export type DetectedExport =
  | { ok: true; format: BillingFormat; parsed: ParsedExport }
  | { ok: false; reason: string };

function firstBucket(doc: unknown): Record<string, unknown> | undefined {
  const page = Array.isArray(doc) ? doc[0] : doc;
  if (!isRecord(page) || !Array.isArray(page.data)) return undefined;
  const bucket = page.data[0];
  return isRecord(bucket) ? bucket : {};
}

const UNKNOWN_JSON =
  'JSON is not a known billing export (OpenAI costs page, Anthropic cost report, OpenRouter activity, generic or GCP JSONL)';

/**
 * Usage reports share the cost pages' envelope but carry tokens, not money: importing one as a
 * bill would record $0 days, so they are refused by name.
 */
function usageReportKind(doc: unknown): string | undefined {
  for (const page of Array.isArray(doc) ? doc : [doc]) {
    const data = isRecord(page) && Array.isArray(page.data) ? page.data : [];
    for (const bucket of data) {
      const results = isRecord(bucket) && Array.isArray(bucket.results) ? bucket.results : [];
      for (const r of results) {
        if (!isRecord(r)) continue;
        if (typeof r.object === 'string' && r.object.startsWith('organization.usage.')) {
          return 'this is an OpenAI usage page (tokens, no cost): import /v1/organization/costs pages instead';
        }
        if ('uncached_input_tokens' in r || 'cache_read_input_tokens' in r) {
          return 'this is an Anthropic usage report (tokens, no cost): import /v1/organizations/cost_report pages instead';
        }
      }
    }
  }
  return undefined;
}

function parseJsonDocument(text: string): DetectedExport | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined; // maybe JSONL
  }
  const bucket = firstBucket(doc);
  if (bucket === undefined) {
    // A one-line JSONL file is also one JSON document; anything else here is not a billing export.
    if (!text.trimEnd().includes('\n')) return undefined;
    return { ok: false, reason: UNKNOWN_JSON };
  }
  const usage = usageReportKind(doc);
  if (usage !== undefined) return { ok: false, reason: usage };
  if ('start_time' in bucket) return { ok: true, format: 'openai_costs', parsed: parseOpenAiCosts(doc) };
  if ('starting_at' in bucket)
    return { ok: true, format: 'anthropic_cost_report', parsed: parseAnthropicCostReport(doc) };
  if ('date' in bucket && 'usage' in bucket) {
    return { ok: true, format: 'openrouter_activity', parsed: parseOpenRouterActivity(doc) };
  }
  // An empty data[] page: say which API by the page's own markers.
  const page = Array.isArray(doc) ? doc[0] : doc;
  if (isRecord(page) && page.object === 'page')
    return { ok: true, format: 'openai_costs', parsed: parseOpenAiCosts(doc) };
  return { ok: false, reason: 'JSON page has no buckets to recognise (start_time / starting_at)' };
}

function parseJsonlDocument(text: string): DetectedExport {
  const firstLine = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  let first: unknown;
  try {
    first = JSON.parse(firstLine);
  } catch {
    return { ok: false, reason: UNKNOWN_JSON };
  }
  if (isRecord(first) && 'cost_usd' in first && 'date' in first) {
    return { ok: true, format: 'generic_jsonl', parsed: parseGenericJsonl(text) };
  }
  if (isRecord(first) && 'sku' in first && 'cost' in first) {
    return { ok: true, format: 'gcp_billing_export_jsonl', parsed: parseGcpExportJsonl(text) };
  }
  return {
    ok: false,
    reason: 'JSONL rows are neither {date, provider, cost_usd, …} nor GCP billing export rows',
  };
}

function parseCsvDocument(text: string): DetectedExport {
  const header = (parseCsv(text.split(/\r?\n/, 1)[0] ?? '')[0]?.fields ?? []).map((h) =>
    h.trim().toLowerCase(),
  );
  const has = (name: string) => header.includes(name);
  if (has('line_item_unblended_cost'))
    return { ok: true, format: 'aws_cur2_csv', parsed: parseAwsCur2Csv(text) };
  if (has('metercategory')) return { ok: true, format: 'azure_cost_csv', parsed: parseAzureCostCsv(text) };
  if (has('sku.description') || has('service.description')) {
    return { ok: true, format: 'gcp_billing_export_csv', parsed: parseGcpExportCsv(text) };
  }
  if (
    has('service description') &&
    header.some((h) => h.startsWith('cost (') || h.startsWith('unrounded cost ('))
  ) {
    return { ok: true, format: 'gcp_cost_table_csv', parsed: parseGcpCostTableCsv(text) };
  }
  return { ok: false, reason: `unrecognised CSV header: ${header.slice(0, 6).join(', ')}…` };
}

/** Recognises the export by its content (not its file name) and parses it. */
export function detectAndParseExport(text: string): DetectedExport {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const start = body.trimStart()[0];
  if (start === undefined) return { ok: false, reason: 'empty file' };
  if (start === '{' || start === '[') {
    const asJson = parseJsonDocument(body);
    if (asJson !== undefined) return asJson;
    return parseJsonlDocument(body);
  }
  return parseCsvDocument(body);
}
