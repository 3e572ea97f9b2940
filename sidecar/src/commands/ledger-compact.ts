import {
  fail,
  LEDGER_HELP,
  LEDGER_OPTIONS,
  MAX_DAYS_BACK,
  openCommandLedger,
  parseCommandArgs,
  positiveInt,
} from '../report/commandSupport.js';
import { compactRollups, DEFAULT_HOURLY_RETENTION_DAYS } from '../retention/compactRollups.js';

const HELP = `usage: spendline ledger compact [--hourly-retention-days N] [--state-dir DIR | --ledger URL]

Hourly rollups older than N days (default ${DEFAULT_HOURLY_RETENTION_DAYS}, at most 3660) become daily rollups; totals are unchanged.
Safe while sidecars run (one transaction; on a shared PostgreSQL ledger their commits wait for it).

${LEDGER_HELP}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    { 'hourly-retention-days': { type: 'string' }, ...LEDGER_OPTIONS },
    HELP,
  );
  if (!parsed.ok) return parsed.exitCode;
  const { values } = parsed;
  const days = positiveInt('hourly-retention-days', values['hourly-retention-days'], MAX_DAYS_BACK);
  if (!days.ok) return fail(days.reason);
  const ledger = await openCommandLedger(values, false);
  if (!ledger.ok) return fail(ledger.reason, ledger.exitCode);
  try {
    const r = await compactRollups(ledger.db, Date.now(), days.value ?? DEFAULT_HOURLY_RETENTION_DAYS);
    process.stdout.write(
      `folded ${r.foldedUsageRows} hourly usage rows and ${r.foldedPrincipalRows} hourly principal rows before ${new Date(r.cutoffSec * 1000).toISOString()} into daily rows\n`,
    );
    return 0;
  } finally {
    await ledger.db.close();
  }
}
