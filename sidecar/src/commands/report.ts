import {
  fail,
  LEDGER_HELP,
  LEDGER_OPTIONS,
  MAX_DAYS_BACK,
  openCommandLedger,
  parseCommandArgs,
  positiveInt,
} from '../report/commandSupport.js';
import {
  REPORT_FORMATS,
  type ReportFormat,
  totalsToJson,
  usageToCsv,
  usageToMarkdown,
  usageToTable,
} from '../report/formatUsage.js';
import { FILTERS, GROUP_BY, type GroupBy, queryUsage, type UsageFilters } from '../report/queryUsage.js';

const HELP = `usage: spendline report [--days-back N] [--by ${GROUP_BY.join('|')}] [--format ${REPORT_FORMATS.join('|')}]
                        [--provider P] [--model M] [--service S] [--feature F] [--user U] [--task T] [--tenant T]
                        [--agent A] [--execution_path P] [--source S] [--top N]
                        [--state-dir DIR | --ledger URL]

Totals over the last N UTC days (default 30, at most 3660, today included) from the ledger's rollups, with the
exact/estimated split. Unpriced usage and calls without usage ("no usage": failed calls, streams
without usage) are listed apart: they are never counted as $0. agent, execution_path and source
(a JSONL record's source, else its file's name) are kept per call group, not per user or task.
Table and Markdown list the 50 biggest groups (--top N, 0 = all); json and csv list all
unless --top is given. Totals always cover every group.

${LEDGER_HELP}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'days-back': { type: 'string' },
      by: { type: 'string' },
      format: { type: 'string' },
      ...LEDGER_OPTIONS,
      top: { type: 'string' },
      ...Object.fromEntries(FILTERS.map((f) => [f, { type: 'string' as const }])),
    },
    HELP,
  );
  if (!parsed.ok) return parsed.exitCode;
  const values: Record<string, string | boolean | string[] | undefined> = parsed.values;
  const days = positiveInt('days-back', values['days-back'] as string | undefined, MAX_DAYS_BACK);
  if (!days.ok) return fail(days.reason);
  const by = values.by as string | undefined;
  if (by !== undefined && !(GROUP_BY as readonly string[]).includes(by)) {
    return fail(`--by must be one of ${GROUP_BY.join(', ')}; got ${JSON.stringify(by)}`);
  }
  const topFlag = values.top as string | undefined;
  if (topFlag !== undefined && !/^\d+$/.test(topFlag))
    return fail(`--top must be an integer >= 0, got ${JSON.stringify(topFlag)}`);
  const format = (values.format as string | undefined) ?? 'table';
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
    return fail(`--format must be one of ${REPORT_FORMATS.join(', ')}; got ${JSON.stringify(format)}`);
  }
  const filters: UsageFilters = {};
  for (const f of FILTERS) {
    const v = values[f];
    if (typeof v === 'string') filters[f] = v;
  }
  const ledger = await openCommandLedger(values, false);
  if (!ledger.ok) return fail(ledger.reason, ledger.exitCode);
  try {
    const daysBack = days.value ?? 30;
    const today = Math.floor(Date.now() / 86_400_000) * 86_400;
    const fromSec = today - (daysBack - 1) * 86_400;
    const toSec = today + 86_400;
    // Readable formats list the biggest 50 groups unless asked; json/csv are for machines: all rows.
    const readable = format === 'table' || format === 'markdown';
    const top = topFlag !== undefined ? Number(topFlag) : readable ? 50 : 0;
    const result = await queryUsage(ledger.db, {
      fromSec,
      toSec,
      groupBy: by as GroupBy | undefined,
      filters,
      limit: top,
    });
    if (!result.ok) return fail(result.reason);
    const label = by ?? 'scope';
    const hidden = by === undefined ? 0 : result.groupCount - result.rows.length;
    const rows = by === undefined ? [{ ...result.totals, key: 'all' }] : result.rows;
    const title = `Spend, last ${daysBack} UTC days${by ? ` by ${by}` : ''}`;
    const out =
      (format as ReportFormat) === 'json'
        ? `${JSON.stringify(
            {
              from: new Date(fromSec * 1000).toISOString(),
              to: new Date(toSec * 1000).toISOString(),
              group_by: by ?? null,
              filters,
              totals: totalsToJson(result.totals),
              rows: by === undefined ? [] : result.rows.map((r) => ({ [by]: r.key, ...totalsToJson(r) })),
            },
            null,
            2,
          )}\n`
        : format === 'csv'
          ? usageToCsv(label, rows)
          : format === 'markdown'
            ? usageToMarkdown(label, rows, result.totals, title, hidden)
            : `${title}\n\n${usageToTable(label, by === undefined ? [] : rows, result.totals, hidden)}`;
    process.stdout.write(out);
    return 0;
  } finally {
    await ledger.db.close();
  }
}
