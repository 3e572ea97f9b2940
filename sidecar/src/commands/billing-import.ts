import { importBillingFile } from '../billing/importBillingFile.js';
import {
  fail,
  LEDGER_HELP,
  LEDGER_OPTIONS,
  openCommandLedger,
  parseCommandArgs,
  seeHelp,
} from '../report/commandSupport.js';

const HELP = `usage: spendline billing import <file>... [--state-dir DIR | --ledger URL]

Reads each export (format recognised from its content), stores billed cost per provider per UTC day.
Importing the same file again changes nothing; a newer export of the same day replaces the older.
All-or-nothing per file: one bad row (unreadable amount or date, a currency other than USD, an
ambiguous decimal such as "10,00", a negative charge, a page saved twice) refuses the whole file,
nothing of it is written, and every bad row is listed as file:line: reason. Sidecars and imports
sharing a PostgreSQL ledger may import the same file at once: it is stored once.
Exit code 0: all imported; 1: a file was not imported (or the ledger could not be opened).

${LEDGER_HELP}`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(argv, LEDGER_OPTIONS, HELP, true);
  if (!parsed.ok) return parsed.exitCode;
  if (parsed.positionals.length === 0) return fail(`no file given ${seeHelp(HELP)}`);
  const ledger = await openCommandLedger(parsed.values, true);
  if (!ledger.ok) return fail(ledger.reason, ledger.exitCode);
  let exit = 0;
  try {
    for (const file of parsed.positionals) {
      const r = await importBillingFile(ledger.db, file);
      if (!r.ok) {
        for (const rej of r.rejections ?? [])
          process.stderr.write(`${r.path}:${rej.location.replace(/^line /, '')}: rejected: ${rej.reason}\n`);
        process.stderr.write(`${file}: not imported: ${r.reason}\n`);
        exit = 1;
        continue;
      }
      process.stdout.write(
        `${r.path}: ${r.format}: ${r.accepted} rows accepted, ${r.ignored} ignored (not AI spend); ` +
          `${r.daysWritten} provider-days written${r.daysKeptNewer > 0 ? `, ${r.daysKeptNewer} kept (newer export already imported)` : ''}${r.unchanged ? ' (unchanged)' : ''}\n`,
      );
    }
  } finally {
    await ledger.db.close();
  }
  return exit;
}
