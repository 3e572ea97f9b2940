#!/usr/bin/env node
/**
 * The `spendline` command: dispatches to one module per subcommand in `commands/`.
 * Each command module exports `run(argv)` resolving to the process exit code; its one-line summary
 * is here, so the overview loads no module. Commands print their own `--help`.
 */
import { HOW_TO_RUN } from './howToRun.js';

export interface Command {
  run(argv: string[]): Promise<number>;
}

/** Subcommand name (may be two words, e.g. `billing import`) → its one-line summary and module, in the order a newcomer meets them. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  up: {
    summary: 'run the whole pipeline on a laptop: local OTLP receiver + sidecar + status page',
    load: async () => await import('./commands/up.js'),
  },
  demo: {
    summary:
      'send demo LLM traffic (real openai/anthropic clients, built-in fake provider) to an OTLP endpoint',
    load: async () => await import('./commands/demo.js'),
  },
  report: {
    summary:
      'spend per provider, model, service, feature, user, task, tenant, agent, execution path, source or day',
    load: async () => await import('./commands/report.js'),
  },
  insights: {
    summary: 'the changes that would cut spend most, priced on your own usage',
    load: async () => await import('./commands/insights.js'),
  },
  'billing import': {
    summary: 'import provider billing exports (OpenAI, Anthropic, GCP, AWS CUR, Azure, generic JSONL)',
    load: async () => await import('./commands/billing-import.js'),
  },
  reconcile: {
    summary: 'tracked versus billed cost per provider per UTC day, with the untracked gap',
    load: async () => await import('./commands/reconcile.js'),
  },
  sidecar: {
    summary: 'tail the collector file export, count usage exactly once, serve Prometheus metrics',
    load: async () => await import('./commands/sidecar.js'),
  },
  'ledger compact': {
    summary: 'fold hourly rollups older than the retention into daily rollups (sums preserved)',
    load: async () => await import('./commands/ledger-compact.js'),
  },
};

function overview(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(0, ...names.map((n) => n.length));
  return [
    'usage: spendline <command> [options]',
    '',
    'LLM cost observability: count every usage record exactly once, price it, reconcile it.',
    '',
    'commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]?.summary}`),
    '',
    '"npx spendline <command> --help" lists its options, e.g. "npx spendline up --help".',
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
  const loader = (twoWord ?? COMMANDS[first])?.load;
  if (loader === undefined) {
    process.stderr.write(`spendline: unknown command "${first}" (run "npx spendline --help")\n`);
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
