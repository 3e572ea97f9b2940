import { existsSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { HOW_TO_RUN } from '../howToRun.js';
import type { LedgerDb } from '../ledger/openLedger.js';
import { checkLedgerUrl, ledgerUrlOf, openLedgerStore, sqlitePathOf } from '../ledger/openStore.js';
import { redactUrl } from '../ledger/pgStore.js';
import type { LedgerStore } from '../ledger/store.js';

/** `--state-dir` value, else `SPENDLINE_STATE_DIR`, else `./.spendline` (the default of the sidecar and of `spendline up`). */
export function stateDirOf(flag: string | undefined): string {
  return flag ?? process.env.SPENDLINE_STATE_DIR ?? './.spendline';
}

/** The flags of every command that opens the ledger (parseArgs specs). */
export const LEDGER_OPTIONS = {
  'state-dir': { type: 'string' },
  ledger: { type: 'string' },
} as const;

/** `--help` lines for `LEDGER_OPTIONS`. */
export const LEDGER_HELP = `The ledger: --ledger postgres://user[:password]@host[:port]/db (or SPENDLINE_LEDGER_URL) is a
PostgreSQL ledger shared by many sidecars (the whole fleet's records); without it, ledger.sqlite in
--state-dir (or SPENDLINE_STATE_DIR; default ./.spendline).`;

export type OpenedStore = { ok: true; db: LedgerStore } | { ok: false; reason: string; exitCode: number };

/**
 * Opens the ledger a command works on: PostgreSQL when `--ledger` (or SPENDLINE_LEDGER_URL) is
 * given, else the state directory's SQLite file. `create` false refuses a missing SQLite ledger (a
 * report of nothing is a mistake). A bad URL is exit code 2; a ledger that cannot be opened is 1,
 * named without its password.
 */
export async function openCommandLedger(
  values: { readonly 'state-dir'?: unknown; readonly ledger?: unknown },
  create: boolean,
): Promise<OpenedStore> {
  const flag = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const url = ledgerUrlOf(flag(values.ledger));
  if (url !== undefined) {
    const ok = checkLedgerUrl(url);
    if (!ok.ok) return { ok: false, reason: `--ledger: ${ok.reason}`, exitCode: 2 };
  }
  const stateDir = stateDirOf(flag(values['state-dir']));
  if (url === undefined && !create && !existsSync(sqlitePathOf(stateDir)))
    return {
      ok: false,
      reason: `no ledger at ${sqlitePathOf(stateDir)} (is --state-dir right? the sidecar creates it; or give --ledger postgres://…)`,
      exitCode: 1,
    };
  let db: LedgerStore;
  try {
    db = await openLedgerStore({ url, stateDir, mustExist: !create });
  } catch (err) {
    const where = url === undefined ? sqlitePathOf(stateDir) : redactUrl(url);
    return { ok: false, reason: `cannot open ledger ${where}: ${errorText(err, url)}`, exitCode: 1 };
  }
  // Reports scan large rollup ranges once: map the SQLite file instead of copying pages through read().
  if (db.kind === 'sqlite' && 'db' in db) (db.db as LedgerDb).pragma('mmap_size = 1073741824');
  return { ok: true, db };
}

/** An error's message on one line, never with the ledger URL's password. */
function errorText(err: unknown, url: string | undefined): string {
  const parts =
    err instanceof AggregateError && err.errors.length > 0
      ? err.errors.map((e) => (e instanceof Error ? e.message : String(e)))
      : [err instanceof Error ? err.message || ((err as { code?: string }).code ?? err.name) : String(err)];
  let text = [...new Set(parts)].join('; ').replace(/\s+/g, ' ').trim();
  let password = '';
  try {
    password = url === undefined ? '' : decodeURIComponent(new URL(url).password);
  } catch {}
  if (password !== '') text = text.split(password).join('***');
  return text;
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

/** `(run "npx spendline <command> --help")`, the command named by its help's `usage: spendline …` line. */
export function seeHelp(help: string): string {
  const command = /^usage: spendline ([a-z]+(?: [a-z]+)?)/.exec(help)?.[1] ?? '<command>';
  return `(run "npx spendline ${command} --help")`;
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
type HelpOption = { help: { type: 'boolean'; short: 'h' } };
export type CommandValues<O extends OptionSpecs> = ReturnType<
  typeof parseArgs<{ options: O & HelpOption }>
>['values'];

/**
 * Parses a command's flags (plus `--help`/`-h`) with node's parseArgs. Bad flags print the reason in
 * one line, naming the command's `--help`, and give exit code 2; `--help` prints the help and gives 0; either way the caller returns
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
    // parseArgs' messages span lines ("… is ambiguous.\nDid you forget …"): one line, then where help is.
    const message = (err as Error).message.replace(/\s*\n\s*/g, ' ').trim();
    return { ok: false, exitCode: fail(`${message} ${seeHelp(help)}`) };
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${help}\n\n${HOW_TO_RUN}\n`);
    return { ok: false, exitCode: 0 };
  }
  return { ok: true, values: parsed.values as CommandValues<O>, positionals: parsed.positionals };
}
