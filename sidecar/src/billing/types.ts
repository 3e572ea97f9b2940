/**
 * One billed amount read from a provider export, already in exact nano-USD and attributed to a UTC day.
 * Parsers emit lines; the importer sums them per (provider, day, source).
 */
export interface BilledLine {
  provider: string;
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  /** Which export the amount came from (e.g. `openai.costs_api`); a newer export of the same source replaces an older one. */
  source: string;
  costNano: number;
  /** Tokens billed, when the export says so (0 otherwise). */
  tokens: number;
  /** True when the export carries a token total for this line (then `tokens` is it, 0 included). */
  tokensReported?: boolean;
  /** 0 for the zero line an empty daily bucket yields (a billed $0 day), 1 for an export row. */
  rows?: 0;
}

/** A row that could not be read: where it is (`line 12` or `data[0].results[3]`) and why. */
export interface BillingRejection {
  location: string;
  reason: string;
}

export interface ParsedExport {
  lines: BilledLine[];
  rejections: BillingRejection[];
  /** Rows that are valid but not AI spend (other cloud services, total rows). */
  ignored: number;
  /** Newest export timestamp inside the file (ms), when the format carries one. */
  exportTimeMs: number | undefined;
}

export const BILLING_FORMATS = [
  'openai_costs',
  'anthropic_cost_report',
  'openrouter_activity',
  'generic_jsonl',
  'gcp_billing_export_csv',
  'gcp_billing_export_jsonl',
  'gcp_cost_table_csv',
  'aws_cur2_csv',
  'azure_cost_csv',
] as const;
export type BillingFormat = (typeof BILLING_FORMATS)[number];

export function emptyParse(): ParsedExport {
  return { lines: [], rejections: [], ignored: 0, exportTimeMs: undefined };
}
