import { centsToNano } from '@spendline/sdk/core';
import { emptyParse, type ParsedExport } from './types.js';
import {
  isRecord,
  isUsd,
  notUsd,
  parseCount,
  parseDay,
  parseUsdNano,
  parseUtcInstantMs,
  utcDayOfMs,
} from './values.js';

/** A JSON document holding one API page (`{data: [...]}`) or an array of pages (a paginated pull saved together). */
function pagesOf(doc: unknown): unknown[] {
  return Array.isArray(doc) ? doc : [doc];
}

/**
 * Buckets by start time across every page of a document. The APIs paginate by whole buckets, so a
 * start seen twice means a page was saved twice: summing it would double the bill, so it is refused.
 */
function bucketIndex() {
  const first = new Map<string, string>();
  return {
    repeated(start: string, at: string, out: ParsedExport): boolean {
      const earlier = first.get(start);
      if (earlier === undefined) {
        first.set(start, at);
        return false;
      }
      out.rejections.push({
        location: at,
        reason: `bucket ${start} appears again (first at ${earlier}): a page saved twice? nothing is summed twice`,
      });
      return true;
    },
  };
}

/**
 * OpenAI `GET /v1/organization/costs` pages: daily buckets (unix s), `amount.value` in dollars as a
 * number or (seen live) a string. An empty bucket is a billed $0 day, recorded as such.
 */
export function parseOpenAiCosts(doc: unknown): ParsedExport {
  const out = emptyParse();
  const seen = bucketIndex();
  pagesOf(doc).forEach((page, p) => {
    const where = Array.isArray(doc) ? `[${p}].` : '';
    const data = isRecord(page) ? page.data : undefined;
    if (!Array.isArray(data)) {
      out.rejections.push({ location: `${where}data`, reason: 'page has no data[] array' });
      return;
    }
    data.forEach((bucket, b) => {
      const at = `${where}data[${b}]`;
      if (!isRecord(bucket) || typeof bucket.start_time !== 'number' || !Array.isArray(bucket.results)) {
        out.rejections.push({ location: at, reason: 'bucket needs numeric start_time and results[]' });
        return;
      }
      const start = parseUtcInstantMs(bucket.start_time);
      if (!start.ok) {
        out.rejections.push({ location: at, reason: `start_time: ${start.reason}` });
        return;
      }
      const day = utcDayOfMs(start.value);
      if (seen.repeated(String(bucket.start_time), at, out)) return;
      out.lines.push({
        provider: 'openai',
        day,
        source: 'openai.costs_api',
        costNano: 0,
        tokens: 0,
        rows: 0,
      });
      bucket.results.forEach((result, r) => {
        const loc = `${at}.results[${r}]`;
        const amount = isRecord(result) ? result.amount : undefined;
        if (!isRecord(result) || !isRecord(amount)) {
          out.rejections.push({ location: loc, reason: 'result has no amount object' });
          return;
        }
        if (!isUsd(amount.currency)) {
          out.rejections.push({ location: loc, ...notUsd(amount.currency) });
          return;
        }
        const cost = parseUsdNano(amount.value);
        if (!cost.ok) {
          out.rejections.push({ location: loc, reason: `amount.value: ${cost.reason}` });
          return;
        }
        const qty = parseCount(result.quantity);
        const unit = result.quantity_unit;
        const tokens =
          qty.ok && qty.value !== undefined
            ? unit === 'tokens'
              ? qty.value
              : unit === '1000_tokens'
                ? qty.value * 1000
                : 0
            : 0;
        out.lines.push({ provider: 'openai', day, source: 'openai.costs_api', costNano: cost.value, tokens });
      });
    });
  });
  return out;
}

/**
 * Anthropic `GET /v1/organizations/cost_report` pages: `amount` is a decimal string in CENTS
 * ("311.400000" = $3.114). Buckets are UTC days (`starting_at`, RFC 3339).
 */
export function parseAnthropicCostReport(doc: unknown): ParsedExport {
  const out = emptyParse();
  const seen = bucketIndex();
  pagesOf(doc).forEach((page, p) => {
    const where = Array.isArray(doc) ? `[${p}].` : '';
    const data = isRecord(page) ? page.data : undefined;
    if (!Array.isArray(data)) {
      out.rejections.push({ location: `${where}data`, reason: 'page has no data[] array' });
      return;
    }
    data.forEach((bucket, b) => {
      const at = `${where}data[${b}]`;
      const start = isRecord(bucket) ? parseUtcInstantMs(bucket.starting_at) : undefined;
      if (!isRecord(bucket) || !start?.ok || !Array.isArray(bucket.results)) {
        out.rejections.push({ location: at, reason: 'bucket needs an RFC 3339 starting_at and results[]' });
        return;
      }
      const day = utcDayOfMs(start.value);
      if (seen.repeated(String(start.value), at, out)) return;
      out.lines.push({
        provider: 'anthropic',
        day,
        source: 'anthropic.cost_report',
        costNano: 0,
        tokens: 0,
        rows: 0,
      });
      bucket.results.forEach((result, r) => {
        const loc = `${at}.results[${r}]`;
        if (!isRecord(result)) {
          out.rejections.push({ location: loc, reason: 'result is not an object' });
          return;
        }
        if (!isUsd(result.currency)) {
          out.rejections.push({ location: loc, ...notUsd(result.currency) });
          return;
        }
        const amount = result.amount;
        if (typeof amount !== 'string' && typeof amount !== 'number') {
          out.rejections.push({ location: loc, reason: 'amount (cents, decimal string) is missing' });
          return;
        }
        const cost = centsToNano(amount);
        if (!cost.ok) {
          out.rejections.push({ location: loc, reason: `amount: ${cost.reason}` });
          return;
        }
        if (cost.nano < 0) {
          out.rejections.push({
            location: loc,
            reason: `amount: negative amount ${JSON.stringify(amount)} refused: the cost report defines no credits`,
          });
          return;
        }
        out.lines.push({
          provider: 'anthropic',
          day,
          source: 'anthropic.cost_report',
          costNano: cost.nano,
          tokens: 0,
        });
      });
    });
  });
  return out;
}

/**
 * OpenRouter `GET /api/v1/activity`: daily rows (UTC days) with `usage` in USD (1 credit = $1).
 * `byok_usage_inference` is billed by the upstream provider, not OpenRouter, so it is not added.
 */
export function parseOpenRouterActivity(doc: unknown): ParsedExport {
  const out = emptyParse();
  const data = isRecord(doc) && Array.isArray(doc.data) ? doc.data : [];
  data.forEach((row, i) => {
    const loc = `data[${i}]`;
    if (!isRecord(row)) {
      out.rejections.push({ location: loc, reason: 'row is not an object' });
      return;
    }
    const day = parseDay(row.date);
    if (!day.ok) {
      out.rejections.push({ location: loc, reason: `date: ${day.reason}` });
      return;
    }
    const cost = parseUsdNano(row.usage);
    if (!cost.ok) {
      out.rejections.push({ location: loc, reason: `usage: ${cost.reason}` });
      return;
    }
    const prompt = parseCount(row.prompt_tokens);
    const completion = parseCount(row.completion_tokens);
    const tokens = (prompt.ok ? (prompt.value ?? 0) : 0) + (completion.ok ? (completion.value ?? 0) : 0);
    out.lines.push({
      provider: 'openrouter',
      day: day.value,
      source: 'openrouter.activity',
      costNano: cost.value,
      tokens,
    });
  });
  return out;
}
