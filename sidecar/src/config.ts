import { parseArgs } from 'node:util';
import type { SidecarExtension } from './extensions.js';
import { CAPPED_LABELS, type CappedLabel, DEFAULT_LABEL_CAPS } from './pipeline/labelCaps.js';

export interface SidecarConfig {
  otlpGlobs: string[];
  jsonlGlobs: string[];
  stateDir: string;
  listen: { host: string; port: number };
  pricesFile: string | undefined;
  billingGlobs: string[];
  budgetsFile: string | undefined;
  maxLineBytes: number;
  dedupWindowMs: number;
  batchBytes: number;
  pollIntervalMs: number;
  labelCaps: Record<CappedLabel, number>;
  /** Bearer token for /api (SPENDLINE_API_TOKEN). */
  apiToken: string | undefined;
  /** Static status page folder served at `/` when it exists (default: the package's public/). */
  publicDir?: string;
  /** Extensions to start (default: EXTENSIONS from extensionList.ts). */
  extensions?: SidecarExtension[];
  now?: () => number;
}

interface FlagSpec {
  name: string;
  arg: string;
  help: string;
  repeatable?: boolean;
  default?: string;
}

/** Every flag; each is also SPENDLINE_<FLAG> (repeatables: comma-separated). */
export const FLAGS: FlagSpec[] = [
  {
    name: 'otlp-file',
    arg: '<glob>',
    repeatable: true,
    help: "collector file-export files (OTLP/JSON lines), e.g. '/var/lib/otel/genai*.json'",
  },
  {
    name: 'usage-jsonl',
    arg: '<glob>',
    repeatable: true,
    help: 'plain JSONL usage logs (tolerant schema: ts, provider, model|model_name, usage|token_usage, usage_type|estimated, agent, execution_path, source; a record without source takes its file name)',
  },
  {
    name: 'state-dir',
    arg: '<dir>',
    default: './.spendline',
    help: 'where the ledger (ledger.sqlite) lives',
  },
  {
    name: 'listen',
    arg: '<host:port>',
    default: '127.0.0.1:9464',
    help: 'HTTP address for /metrics, /healthz, /readyz, /api',
  },
  { name: 'prices', arg: '<file>', help: 'price overrides (negotiated or custom prices), JSON or YAML' },
  { name: 'billing', arg: '<glob>', repeatable: true, help: 'provider billing exports for reconciliation' },
  { name: 'budgets', arg: '<file>', help: 'budget definitions' },
  {
    name: 'max-line-bytes',
    arg: '<bytes>',
    default: '16777216',
    help: 'longer lines are skipped and counted as rejected (line_too_long)',
  },
  {
    name: 'dedup-window',
    arg: '<duration>',
    default: '24h',
    help: 'how long dedup keys are kept (e.g. 30m, 24h, 7d)',
  },
  {
    name: 'batch-bytes',
    arg: '<bytes>',
    default: '16777216',
    help: 'line bytes per ledger transaction at most (a batch also ends after 1 s, at its rollup-row bound (~50 ms commits), or when caught up)',
  },
  { name: 'poll-interval', arg: '<duration>', default: '250ms', help: 'wait between polls once caught up' },
  {
    name: 'label-cap',
    arg: '<label=n>',
    repeatable: true,
    help: `distinct values per label before folding into "other" (labels: ${CAPPED_LABELS.join(', ')}; defaults ${CAPPED_LABELS.map((l) => `${l}=${DEFAULT_LABEL_CAPS[l]}`).join(', ')})`,
  },
];

export function envName(flag: string): string {
  return `SPENDLINE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function sidecarHelp(): string {
  const rows = FLAGS.map((f) => {
    const left = `  --${f.name} ${f.arg}`;
    const extra = [
      f.repeatable ? 'repeatable' : '',
      f.default !== undefined ? `default ${f.default}` : '',
      `env ${envName(f.name)}`,
    ]
      .filter(Boolean)
      .join('; ');
    return `${left}\n      ${f.help} (${extra})`;
  });
  return [
    'usage: spendline sidecar --otlp-file <glob> [--usage-jsonl <glob>] [options]',
    '',
    'Tails the collector file export, counts every usage record exactly once into the ledger and',
    'serves Prometheus metrics. SIGTERM/SIGINT: commits the current batch, then exits 0.',
    '',
    'options:',
    ...rows,
    '  --help\n      this text',
    '',
    'environment: SPENDLINE_API_TOKEN = bearer token for /api (required unless --listen is loopback).',
  ].join('\n');
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDurationMs(value: string): number | undefined {
  const m = DURATION.exec(value.trim());
  if (m === null) return undefined;
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] as string] as number));
}

function positiveInt(value: string): number | undefined {
  return /^\d+$/.test(value.trim()) && Number(value) > 0 ? Number(value) : undefined;
}

export type ParsedArgs =
  | { ok: true; help: true }
  | { ok: true; help: false; config: SidecarConfig }
  | { ok: false; reason: string };

/** Flags win over SPENDLINE_* environment variables; errors are values (the command exits 2). */
export function parseSidecarArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {
    help: { type: 'boolean' },
  };
  for (const f of FLAGS) options[f.name] = { type: 'string', multiple: f.repeatable ?? false };
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (values.help === true) return { ok: true, help: true };
  const one = (name: string): string | undefined => {
    const v = values[name];
    if (typeof v === 'string') return v;
    const e = env[envName(name)];
    if (e !== undefined && e !== '') return e;
    return FLAGS.find((f) => f.name === name)?.default;
  };
  const many = (name: string): string[] => {
    const v = values[name];
    if (Array.isArray(v) && v.length > 0) return v.map(String);
    const e = env[envName(name)];
    return e === undefined
      ? []
      : e
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  };

  const otlpGlobs = many('otlp-file');
  const jsonlGlobs = many('usage-jsonl');
  if (otlpGlobs.length === 0 && jsonlGlobs.length === 0) {
    return { ok: false, reason: 'nothing to read: give --otlp-file <glob> (or --usage-jsonl <glob>)' };
  }
  const listenText = one('listen') as string;
  const lm = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(listenText);
  const port = lm ? Number(lm[2]) : Number.NaN;
  if (lm === null || !(port >= 0 && port <= 65535)) {
    return { ok: false, reason: `--listen must be host:port, got "${listenText}"` };
  }
  const host = (lm[1] as string).replace(/^\[|\]$/g, '');
  const numbers: Record<string, number> = {};
  for (const name of ['max-line-bytes', 'batch-bytes']) {
    const n = positiveInt(one(name) as string);
    if (n === undefined)
      return { ok: false, reason: `--${name} must be a positive integer, got "${one(name)}"` };
    numbers[name] = n;
  }
  for (const name of ['dedup-window', 'poll-interval']) {
    const n = parseDurationMs(one(name) as string);
    if (n === undefined || n <= 0)
      return { ok: false, reason: `--${name} must be a duration like 250ms, 30s, 24h; got "${one(name)}"` };
    numbers[name] = n;
  }
  const labelCaps = { ...DEFAULT_LABEL_CAPS };
  for (const spec of many('label-cap')) {
    const [label, n] = spec.split('=');
    const cap = positiveInt(n ?? '');
    if (!CAPPED_LABELS.includes(label as CappedLabel) || cap === undefined) {
      return {
        ok: false,
        reason: `--label-cap must be <label>=<n> with label one of ${CAPPED_LABELS.join(', ')}; got "${spec}"`,
      };
    }
    labelCaps[label as CappedLabel] = cap;
  }
  return {
    ok: true,
    help: false,
    config: {
      otlpGlobs,
      jsonlGlobs,
      stateDir: one('state-dir') as string,
      listen: { host, port },
      pricesFile: one('prices'),
      billingGlobs: many('billing'),
      budgetsFile: one('budgets'),
      maxLineBytes: numbers['max-line-bytes'] as number,
      batchBytes: numbers['batch-bytes'] as number,
      dedupWindowMs: numbers['dedup-window'] as number,
      pollIntervalMs: numbers['poll-interval'] as number,
      labelCaps,
      apiToken: env.SPENDLINE_API_TOKEN,
    },
  };
}
