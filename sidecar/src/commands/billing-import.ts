import { importBillingFile } from '../billing/importBillingFile.js';
import { fail, openStateLedger, parseCommandArgs, stateDirOf } from '../report/commandSupport.js';

export const summary =
  'import provider billing exports (OpenAI, Anthropic, GCP, AWS CUR, Azure, generic JSONL)';

const HELP = `usage: spendline billing import <file>... [--state-dir DIR]

Reads each export (format recognised from its content), stores billed cost per provider per UTC day.
Importing the same file again changes nothing; a newer export of the same day replaces the older.
Rejected rows are listed with file, line and reason; the file's good rows still count.
Exit code 0: all imported; 1: a file could not be imported or had rejected rows.`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(argv, { 'state-dir': { type: 'string' } }, HELP, true);
  if (!parsed.ok) return parsed.exitCode;
  if (parsed.positionals.length === 0) return fail(`no file given\n\n${HELP}`);
  const ledger = openStateLedger(stateDirOf(parsed.values['state-dir']), true);
  if (!ledger.ok) return fail(ledger.reason, 1);
  let exit = 0;
  try {
    for (const file of parsed.positionals) {
      const r = importBillingFile(ledger.db, file);
      if (!r.ok) {
        process.stderr.write(`${file}: not imported: ${r.reason}\n`);
        exit = 1;
        continue;
      }
      process.stdout.write(
        `${r.path}: ${r.format}: ${r.accepted} rows accepted, ${r.rejected} rejected, ${r.ignored} ignored (not AI spend); ` +
          `${r.daysWritten} provider-days written${r.daysKeptNewer > 0 ? `, ${r.daysKeptNewer} kept (newer export already imported)` : ''}${r.unchanged ? ' (unchanged)' : ''}\n`,
      );
      for (const rej of r.rejections)
        process.stderr.write(`${r.path}:${rej.location.replace(/^line /, '')}: rejected: ${rej.reason}\n`);
      if (r.rejected > 0) exit = 1;
    }
  } finally {
    ledger.db.close();
  }
  return exit;
}
