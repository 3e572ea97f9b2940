import { toCsv } from './csv.js';
import { mdText, plainText } from './markdown.js';
import { costCell, usdDecimal, usdFormatter } from './money.js';
import type { UsageRow, UsageTotals } from './queryUsage.js';

export const REPORT_FORMATS = ['table', 'json', 'csv', 'markdown'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** JSON shape shared by `spendline report --format json` and the usage API. Money: exact decimal strings. */
export function totalsToJson(t: UsageTotals) {
  return {
    requests: t.requests,
    errors: t.errors,
    cost_usd: usdDecimal(t.costNano),
    exact_cost_usd: usdDecimal(t.exactCostNano),
    estimated_cost_usd: usdDecimal(t.estimatedCostNano),
    cost_complete: t.unpricedRequests === 0 && t.unknownUsageRequests === 0,
    unpriced_requests: t.unpricedRequests,
    unpriced_tokens: t.unpricedTokens,
    unknown_usage_requests: t.unknownUsageRequests,
    tokens: {
      input: t.inputTokens,
      cache_read: t.cacheReadTokens,
      cache_write: t.cacheWriteTokens,
      output: t.outputTokens,
      reasoning: t.reasoningTokens,
    },
    ocr_pages: t.ocrPages,
    embedding_inputs: t.embeddingInputs,
  };
}

function totalTokens(t: UsageTotals): number {
  return t.inputTokens + t.cacheReadTokens + t.cacheWriteTokens + t.outputTokens + t.reasoningTokens;
}

const CSV_HEADER = [
  'cost_usd',
  'exact_cost_usd',
  'estimated_cost_usd',
  'unpriced_requests',
  'unpriced_tokens',
  'requests',
  'errors',
  'input_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'output_tokens',
  'reasoning_tokens',
  'ocr_pages',
  'embedding_inputs',
  'unknown_usage_requests',
];

/** CSV for billing/finance tools: exact decimal USD, one row per group, no total row. */
export function usageToCsv(groupBy: string, rows: UsageRow[]): string {
  return toCsv(
    [groupBy, ...CSV_HEADER],
    rows.map((r) => [
      r.key,
      usdDecimal(r.costNano),
      usdDecimal(r.exactCostNano),
      usdDecimal(r.estimatedCostNano),
      r.unpricedRequests,
      r.unpricedTokens,
      r.requests,
      r.errors,
      r.inputTokens,
      r.cacheReadTokens,
      r.cacheWriteTokens,
      r.outputTokens,
      r.reasoningTokens,
      r.ocrPages,
      r.embeddingInputs,
      r.unknownUsageRequests,
    ]),
  );
}

type Usd = (nano: number | bigint) => string;

/** One shared exact number of decimals for every money cell of a table (see exactPlaces). */
function tableUsd(rows: UsageTotals[], totals: UsageTotals): Usd {
  return usdFormatter([...rows, totals].flatMap((t) => [t.costNano, t.exactCostNano, t.estimatedCostNano]));
}

function cells(label: string, t: UsageTotals, usd: Usd): string[] {
  return [
    label,
    costCell(t.costNano, t.unpricedRequests, t.unknownUsageRequests, usd),
    usd(t.exactCostNano),
    usd(t.estimatedCostNano),
    t.unpricedRequests === 0 ? '-' : `${t.unpricedRequests} req / ${t.unpricedTokens} tok`,
    t.unknownUsageRequests === 0 ? '-' : `${t.unknownUsageRequests} req`,
    String(t.requests),
    String(totalTokens(t)),
  ];
}

function header(groupBy: string): string[] {
  return [groupBy, 'cost', 'exact', 'estimated', 'unpriced', 'no usage', 'requests', 'tokens'];
}

function unpricedNote(totals: UsageTotals): string[] {
  const notes: string[] = [];
  if (totals.unpricedRequests > 0)
    notes.push(
      `Unpriced: ${totals.unpricedRequests} requests (${totals.unpricedTokens} tokens) have no known price; their cost is NOT in the totals (add prices with --prices).`,
    );
  if (totals.unknownUsageRequests > 0)
    notes.push(
      `No usage: ${totals.unknownUsageRequests} requests arrived without token counts (failed calls, streams without usage; see docs/emitters.md); their tokens and cost are unknown and NOT in the totals.`,
    );
  return notes;
}

function moreNote(hidden: number): string[] {
  return hidden > 0 ? [`(${hidden} more rows not shown: --top 0 lists all; the total covers every row)`] : [];
}

/** Aligned plain-text table with a total row (the default output); `hiddenRows` = groups cut by --top. */
export function usageToTable(groupBy: string, rows: UsageRow[], totals: UsageTotals, hiddenRows = 0): string {
  const usd = tableUsd(rows, totals);
  const body = [
    header(groupBy),
    ...rows.map((r) => cells(r.key === '' ? '(unset)' : plainText(r.key), r, usd)),
    cells('TOTAL', totals, usd),
  ];
  const widths = (body[0] ?? []).map((_, i) =>
    body.reduce((w, row) => Math.max(w, (row[i] ?? '').length), 0),
  );
  const fmt = (row: string[]) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const [head, ...rest] = body;
  const groups = rest.slice(0, -1).map(fmt);
  const lines = [
    fmt(head ?? []),
    rule,
    ...groups,
    ...(groups.length > 0 ? [rule] : []),
    fmt(rest[rest.length - 1] ?? []),
  ];
  return `${[...lines, ...moreNote(hiddenRows), ...unpricedNote(totals)].join('\n')}\n`;
}

export function usageToMarkdown(
  groupBy: string,
  rows: UsageRow[],
  totals: UsageTotals,
  title: string,
  hiddenRows = 0,
): string {
  const h = header(groupBy);
  const usd = tableUsd(rows, totals);
  const lines = [
    `# ${mdText(title)}`,
    '',
    `| ${h.join(' | ')} |`,
    `| --- | ${h
      .slice(1)
      .map(() => '---:')
      .join(' | ')} |`,
    ...rows.map((r) => `| ${cells(r.key === '' ? '(unset)' : mdText(r.key), r, usd).join(' | ')} |`),
    `| ${cells('**total**', totals, usd).join(' | ')} |`,
    '',
    ...moreNote(hiddenRows),
    ...unpricedNote(totals),
  ];
  return `${lines.join('\n')}\n`;
}
