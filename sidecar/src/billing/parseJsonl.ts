import { gcpProviderOf } from './providers.js';
import { emptyParse, type ParsedExport } from './types.js';
import {
  isRecord,
  isUsd,
  notUsd,
  parseCount,
  parseDay,
  parseName,
  parseUsdNano,
  parseUtcInstantMs,
} from './values.js';

export interface JsonlLine {
  line: number;
  value: unknown;
}

/** Non-empty lines parsed as JSON; a line that is not JSON is a rejection, not a failure of the file. */
export function readJsonl(text: string, out: ParsedExport): JsonlLine[] {
  const rows: JsonlLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      rows.push({ line: i + 1, value: JSON.parse(raw) });
    } catch {
      out.rejections.push({ location: `line ${i + 1}`, reason: 'not valid JSON' });
    }
  });
  return rows;
}

/** The generic daily format `{date, provider, tokens_total, cost_usd, usage_type, source}`. */
export function parseGenericJsonl(text: string): ParsedExport {
  const out = emptyParse();
  for (const { line, value } of readJsonl(text, out)) {
    const loc = `line ${line}`;
    if (!isRecord(value)) {
      out.rejections.push({ location: loc, reason: 'not a JSON object' });
      continue;
    }
    const day = parseDay(value.date);
    if (!day.ok) {
      out.rejections.push({ location: loc, reason: `date: ${day.reason}` });
      continue;
    }
    // cost_usd is USD by name; a row that says otherwise is refused, not converted.
    if (value.currency !== undefined && !isUsd(value.currency)) {
      out.rejections.push({ location: loc, ...notUsd(value.currency) });
      continue;
    }
    const provider = parseName(value.provider);
    if (!provider.ok) {
      out.rejections.push({ location: loc, reason: `provider: ${provider.reason}` });
      continue;
    }
    const cost = parseUsdNano(value.cost_usd);
    if (!cost.ok) {
      out.rejections.push({ location: loc, reason: `cost_usd: ${cost.reason}` });
      continue;
    }
    const tokens = parseCount(value.tokens_total);
    if (!tokens.ok) {
      out.rejections.push({ location: loc, reason: `tokens_total: ${tokens.reason}` });
      continue;
    }
    const source =
      typeof value.source === 'string' && value.source.trim() !== '' ? parseName(value.source) : undefined;
    if (source !== undefined && !source.ok) {
      out.rejections.push({ location: loc, reason: `source: ${source.reason}` });
      continue;
    }
    out.lines.push({
      provider: provider.value,
      day: day.value,
      source: source?.value ?? 'jsonl',
      costNano: cost.value,
      tokens: tokens.value ?? 0,
      tokensReported: tokens.value !== undefined,
    });
  }
  return out;
}

/**
 * GCP BigQuery standard export rows as JSONL (nested `service`, `credits[]`). Net billed cost =
 * `cost + SUM(credits.amount)` (credits are negative); the day is the UTC day of `usage_start_time`.
 */
export function parseGcpExportJsonl(text: string): ParsedExport {
  const out = emptyParse();
  for (const { line, value } of readJsonl(text, out)) {
    const loc = `line ${line}`;
    if (!isRecord(value) || !isRecord(value.service)) {
      out.rejections.push({ location: loc, reason: 'row has no service object' });
      continue;
    }
    const provider = gcpProviderOf(value.service.description);
    if (provider === undefined) {
      out.ignored++;
      continue;
    }
    if (!isUsd(value.currency)) {
      out.rejections.push({ location: loc, ...notUsd(value.currency) });
      continue;
    }
    const start = parseUtcInstantMs(value.usage_start_time);
    if (!start.ok) {
      out.rejections.push({ location: loc, reason: `usage_start_time: ${start.reason}` });
      continue;
    }
    const cost = parseUsdNano(value.cost);
    if (!cost.ok) {
      out.rejections.push({ location: loc, reason: `cost: ${cost.reason}` });
      continue;
    }
    let net = cost.value;
    let badCredit: string | undefined;
    const credits = value.credits ?? [];
    if (!Array.isArray(credits)) badCredit = 'credits is not an array';
    else {
      for (const credit of credits) {
        const amount = parseUsdNano(isRecord(credit) ? credit.amount : undefined, 'credit');
        if (!amount.ok) {
          badCredit = `credits[].amount: ${amount.reason}`;
          break;
        }
        net += amount.value;
      }
    }
    if (badCredit !== undefined) {
      out.rejections.push({ location: loc, reason: badCredit });
      continue;
    }
    const exported = parseUtcInstantMs(value.export_time);
    if (exported.ok) out.exportTimeMs = Math.max(out.exportTimeMs ?? 0, exported.value);
    out.lines.push({
      provider,
      day: new Date(start.value).toISOString().slice(0, 10),
      source: 'gcp.billing_export',
      costNano: net,
      tokens: 0,
    });
  }
  return out;
}
