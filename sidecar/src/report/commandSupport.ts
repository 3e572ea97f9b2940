import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { HOW_TO_RUN } from '../howToRun.js';
import { type LedgerDb, openLedgerDb } from '../ledger/openLedger.js';

/** The ledger file inside a state directory (the sidecar writes it, commands read it). */
export function ledgerPath(stateDir: string): string {
  return join(stateDir, 'ledger.sqlite');
}

/** `--state-dir` value, else `SPENDLINE_STATE_DIR`, else `./.spendline` (the default of the sidecar and of `spendline up`). */
export function stateDirOf(flag: string | undefined): string {
  return flag ?? process.env.SPENDLINE_STATE_DIR ?? './.spendline';
}

export type OpenedLedger = { ok: true; db: LedgerDb; path: string } | { ok: false; reason: string };

/** Opens the ledger of a state directory; `create` false refuses a missing ledger (a report of nothing is a mistake). */
export function openStateLedger(stateDir: string, create: boolean): OpenedLedger {
  const path = ledgerPath(stateDir);
  if (!create && !existsSync(path)) {
    return { ok: false, reason: `no ledger at ${path} (is --state-dir right? the sidecar creates it)` };
  }
  try {
    const db = openLedgerDb(path);
    // Reports scan large rollup ranges once: map the file instead of copying pages through read().
    db.pragma('mmap_size = 1073741824');
    return { ok: true, db, path };
  } catch (err) {
    return { ok: false, reason: `cannot open ledger ${path}: ${(err as Error).message}` };
  }
}

/** Longest look-back of a command's `--days-back` (ten years): dates beyond it are out of range. */
export const MAX_DAYS_BACK = 3660;

/** Parses an integer flag in 1..max; undefined when absent. */
export function positiveInt(
  name: string,
  value: string | undefined,
  max: number,
): { ok: true; value: number | undefined } | { ok: false; reason: string } {
  if (value === undefined) return { ok: true, value: undefined };
  if (!/^\d{1,16}$/.test(value) || Number(value) < 1 || Number(value) > max)
    return { ok: false, reason: `--${name} must be an integer 1..${max}, got ${JSON.stringify(value)}` };
  return { ok: true, value: Number(value) };
}

export function fail(message: string, code = 2): number {
  process.stderr.write(`spendline: ${message}\n`);
  return code;
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
type HelpOption = { help: { type: 'boolean'; short: 'h' } };
export type CommandValues<O extends OptionSpecs> = ReturnType<
  typeof parseArgs<{ options: O & HelpOption }>
>['values'];

/**
 * Parses a command's flags (plus `--help`/`-h`) with node's parseArgs. Bad flags print the reason and
 * the help and give exit code 2; `--help` prints the help and gives 0; either way the caller returns
 * `exitCode`.
 */
export function parseCommandArgs<const O extends OptionSpecs>(
  argv: string[],
  options: O,
  help: string,
  allowPositionals = false,
): { ok: true; values: CommandValues<O>; positionals: string[] } | { ok: false; exitCode: number } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
    });
  } catch (err) {
    return { ok: false, exitCode: fail(`${(err as Error).message}\n\n${help}`) };
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${help}\n\n${HOW_TO_RUN}\n`);
    return { ok: false, exitCode: 0 };
  }
  return { ok: true, values: parsed.values as CommandValues<O>, positionals: parsed.positionals };
}
