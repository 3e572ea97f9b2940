import { createPricer } from '@spendline/sdk/core';
import { computeInsights } from '../insights/computeInsights.js';
import { formatInsights, INSIGHT_FORMATS, type InsightFormat } from '../insights/formatInsights.js';
import { DEFAULT_INSIGHT_OPTIONS } from '../insights/types.js';
import {
  fail,
  LEDGER_HELP,
  LEDGER_OPTIONS,
  MAX_DAYS_BACK,
  openCommandLedger,
  parseCommandArgs,
  positiveInt,
} from '../report/commandSupport.js';

const d = DEFAULT_INSIGHT_OPTIONS;
const HELP = `usage: spendline insights [--days-back N] [--format ${INSIGHT_FORMATS.join('|')}] [--state-dir DIR | --ledger URL]
                          [--prices FILE] [--min-saving USD] [--caching-repeat-share F] [--spike-k K]

Names concrete changes (a cheaper model for small calls, prompt caching, failed calls, data-quality
fixes, spend growth, spike days), each with its evidence and the estimated saving per 30 days,
priced with the catalog (and --prices overrides) on the ledger's usage. Sorted by saving; insights
whose saving cannot be priced come last, with the reason. Thresholds: docs/insights.md.

  --days-back N              days of usage examined, today included (default ${d.daysBack}, at most 3660)
  --format F                 table (default), json or markdown
  --min-saving USD           hide priced insights saving less per 30 days (default ${d.minMonthlySavingUsd})
  --caching-repeat-share F   share of uncached input assumed to repeat (default ${d.cachingAssumedRepeatShare})
  --spike-k K                spike days: spend > median + K·MAD (default ${d.spikeK})
  --prices FILE              price overrides (as for the sidecar)

${LEDGER_HELP}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'days-back': { type: 'string' },
      format: { type: 'string' },
      ...LEDGER_OPTIONS,
      prices: { type: 'string' },
      'min-saving': { type: 'string' },
      'caching-repeat-share': { type: 'string' },
      'spike-k': { type: 'string' },
    },
    HELP,
  );
  if (!parsed.ok) return parsed.exitCode;
  const values: Record<string, string | boolean | string[] | undefined> = parsed.values;
  const days = positiveInt('days-back', values['days-back'] as string | undefined, MAX_DAYS_BACK);
  if (!days.ok) return fail(days.reason);
  const format = (values.format as string | undefined) ?? 'table';
  if (!(INSIGHT_FORMATS as readonly string[]).includes(format))
    return fail(`--format must be one of ${INSIGHT_FORMATS.join(', ')}; got ${JSON.stringify(format)}`);
  const number = (name: string, max: number): number | undefined | string => {
    const v = values[name] as string | undefined;
    if (v === undefined) return undefined;
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) > max)
      return `--${name} must be a number from 0 to ${max}, got ${JSON.stringify(v)}`;
    return Number(v);
  };
  const minSaving = number('min-saving', 1e9);
  const repeat = number('caching-repeat-share', 1);
  const spikeK = number('spike-k', 100);
  for (const v of [minSaving, repeat, spikeK]) if (typeof v === 'string') return fail(v);
  let pricer: ReturnType<typeof createPricer>;
  try {
    pricer = createPricer(values.prices ? { overrides: values.prices as string } : undefined);
  } catch (err) {
    return fail((err as Error).message);
  }
  const opened = await openCommandLedger(values, false);
  if (!opened.ok) return fail(opened.reason, opened.exitCode);
  const db = opened.db;
  const daysBack = days.value ?? d.daysBack;
  let list: Awaited<ReturnType<typeof computeInsights>>;
  try {
    list = await computeInsights(db, pricer, Date.now(), {
      daysBack,
      ...(minSaving !== undefined ? { minMonthlySavingUsd: minSaving as number } : {}),
      ...(repeat !== undefined ? { cachingAssumedRepeatShare: repeat as number } : {}),
      ...(spikeK !== undefined ? { spikeK: spikeK as number } : {}),
    });
  } catch (err) {
    return fail(`cannot read the ledger ${db.location}: ${(err as Error).message}`, 1);
  } finally {
    await db.close();
  }
  process.stdout.write(formatInsights(list, format as InsightFormat, daysBack));
  return 0;
}
