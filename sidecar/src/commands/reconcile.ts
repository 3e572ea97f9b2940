import {
  buildReconciliationReport,
  reportToMarkdown,
  writeReconciliationReport,
} from '../reconcile/dailyReport.js';
import { lastDays } from '../reconcile/reconcileDays.js';
import { parseTolerancePct } from '../reconcile/tolerance.js';
import {
  fail,
  LEDGER_HELP,
  LEDGER_OPTIONS,
  MAX_DAYS_BACK,
  openCommandLedger,
  parseCommandArgs,
  positiveInt,
} from '../report/commandSupport.js';

const HELP = `usage: spendline reconcile [--days-back N] [--write-report DIR] [--tolerance PCT] [--state-dir DIR | --ledger URL]

Compares tracked cost (ledger, each record's own UTC day; exact and estimated apart) with billed cost
(imported exports) for the last N UTC days (default 35, at most 3660). Days whose gap exceeds the tolerance
(default 5%; 0..1000, at most 2 decimals) are flagged with their top models and services. Prints Markdown; --write-report also
writes reconciliation-<day>.md and .json into DIR. Exit code 0, or 3 when a day is beyond tolerance.

${LEDGER_HELP}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'days-back': { type: 'string' },
      'write-report': { type: 'string' },
      tolerance: { type: 'string' },
      ...LEDGER_OPTIONS,
    },
    HELP,
  );
  if (!parsed.ok) return parsed.exitCode;
  const { values } = parsed;
  const days = positiveInt('days-back', values['days-back'], MAX_DAYS_BACK);
  if (!days.ok) return fail(days.reason);
  const parsedTolerance = values.tolerance === undefined ? undefined : parseTolerancePct(values.tolerance);
  if (parsedTolerance !== undefined && !parsedTolerance.ok)
    return fail(`--tolerance ${parsedTolerance.reason}`);
  const tolerance = parsedTolerance?.value ?? 5;
  const ledger = await openCommandLedger(values, false);
  if (!ledger.ok) return fail(ledger.reason, ledger.exitCode);
  try {
    const report = await buildReconciliationReport(
      ledger.db,
      lastDays(Date.now(), days.value ?? 35),
      tolerance,
    );
    process.stdout.write(reportToMarkdown(report));
    if (values['write-report'] !== undefined) {
      const written = writeReconciliationReport(values['write-report'], report);
      process.stdout.write(`\nwrote ${written.markdown} and ${written.json}\n`);
    }
    return report.flagged.length > 0 ? 3 : 0;
  } finally {
    await ledger.db.close();
  }
}
