#!/usr/bin/env node
/**
 * The `spendline` command: dispatches to one module per subcommand in `commands/`.
 * Each command module exports `summary` (one line for the overview) and `run(argv)` resolving to
 * the process exit code. Commands print their own `--help`.
 */
import { HOW_TO_RUN } from './howToRun.js';

export interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

type CommandLoader = () => Promise<Command>;

/** Subcommand name (may be two words, e.g. `billing import`) → its module. */
const COMMANDS: Record<string, CommandLoader> = {
  sidecar: async () => await import('./commands/sidecar.js'),
  'billing import': async () => await import('./commands/billing-import.js'),
  reconcile: async () => await import('./commands/reconcile.js'),
  report: async () => await import('./commands/report.js'),
  'ledger compact': async () => await import('./commands/ledger-compact.js'),
  demo: async () => await import('./commands/demo.js'),
  up: async () => await import('./commands/up.js'),
  insights: async () => await import('./commands/insights.js'),
};

function overview(): string {
  const names = Object.keys(COMMANDS).sort();
  const width = Math.max(0, ...names.map((n) => n.length));
  return [
    'usage: spendline <command> [options]',
    '',
    'LLM cost observability: count every usage record exactly once, price it, reconcile it.',
    '',
    'commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  (run "npx spendline ${n} --help")`),
    '',
    'Every flag of "spendline sidecar" can also be set as SPENDLINE_<FLAG> (e.g. SPENDLINE_STATE_DIR);',
    '"up" hands them to its sidecar (except SPENDLINE_OTLP_FILE and SPENDLINE_FIRST_INCREMENT_HOLD, which it',
    'sets itself); its own --otlp-listen, --rotate-mb and Prometheus flags have no variable.',
    '',
    HOW_TO_RUN,
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${overview()}\n`);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write('spendline 0.1.0\n');
    return 0;
  }
  const twoWord = second !== undefined ? COMMANDS[`${first} ${second}`] : undefined;
  const loader = twoWord ?? COMMANDS[first];
  if (loader === undefined) {
    process.stderr.write(`spendline: unknown command "${first}"\n\n${overview()}\n`);
    return 2;
  }
  const command = await loader();
  return command.run(argv.slice(twoWord ? 2 : 1));
}

/** Any error a command did not turn into a message is still one line and exit code 2, never a stack trace. */
async function runCli(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (err) {
    process.stderr.write(`spendline: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
