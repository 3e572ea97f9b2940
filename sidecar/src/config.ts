import { parseArgs } from 'node:util';
import type { SidecarExtension } from './extensions.js';
import { checkLedgerUrl, checkSidecarId } from './ledger/openStore.js';
import {
  CAPPED_LABELS,
  type CappedLabel,
  DEFAULT_LABEL_CAPS,
  DEFAULT_MAX_SERIES,
} from './pipeline/labelCaps.js';

export interface SidecarConfig {
  otlpGlobs: string[];
  jsonlGlobs: string[];
  stateDir: string;
  /** A PostgreSQL ledger shared by many sidecars (--ledger / SPENDLINE_LEDGER_URL); undefined = SQLite in stateDir. */
  ledgerUrl?: string;
  /** This sidecar's identity on a shared ledger (default: kept in `<state-dir>/sidecar-id`). */
  sidecarId?: string;
  listen: { host: string; port: number };
  pricesFile: string | undefined;
  billingGlobs: string[];
  budgetsFile: string | undefined;
  maxLineBytes: number;
  dedupWindowMs: number;
  batchBytes: number;
  pollIntervalMs: number;
  labelCaps: Record<CappedLabel, number>;
  /**
   * A new counter series is exposed at 0 and shows its first increment only after a scrape and this
   * long (>= 2 scrape intervals), so Prometheus' increase() counts it (--first-increment-hold; 0 = off).
   */
  firstIncrementHoldMs: number;
  /** Distinct label combinations in /metrics (default DEFAULT_MAX_SERIES). */
  maxSeries?: number;
  /** Records dated before now minus this, or after now plus maxFutureSkewMs, are rejected (defaults in ingestLoop). */
  maxRecordAgeMs?: number;
  maxFutureSkewMs?: number;
  /**
   * Live stream (`GET /api/stream`): usage events kept for replay, concurrent streams, heartbeat
   * (defaults as the flags').
   */
  streamBuffer?: number;
  maxStreams?: number;
  streamHeartbeatMs?: number;
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
    help: "this sidecar's own state: its lock, the SQLite ledger (ledger.sqlite) unless --ledger is given, and its sidecar-id",
  },
  {
    name: 'ledger',
    arg: '<url>',
    help: 'a PostgreSQL ledger shared by many sidecars, postgres://user[:password]@host[:port]/db (also SPENDLINE_LEDGER_URL); default: SQLite in --state-dir',
  },
  {
    name: 'sidecar-id',
    arg: '<id>',
    help: "this sidecar's identity on a shared ledger: its file offsets, counters and event ids are its own (default: a random id kept in <state-dir>/sidecar-id)",
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
    help: 'longer lines are never held whole: OTLP records are cut out as the line streams past (up to 4x this per line); the rest count as rejected (line_too_long), one per record',
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
    help: 'line bytes per ledger transaction at most (a batch also ends after 1 s, at its rollup-row bound (~200 ms of statements on SQLite, written in ~15 ms slices; ~50 ms on PostgreSQL), or when caught up)',
  },
  { name: 'poll-interval', arg: '<duration>', default: '250ms', help: 'wait between polls once caught up' },
  {
    name: 'first-increment-hold',
    arg: '<duration>',
    default: '30s',
    help: 'a new counter series is exposed at 0 and shows its first increment only after a scrape and this long, so increase() counts it; at least 2x the longest scrape interval of any Prometheus scraping (0s turns it off)',
  },
  {
    name: 'max-record-age',
    arg: '<duration>',
    default: '3650d',
    help: 'records dated longer ago than this are rejected (timestamp_out_of_range), in metrics and ledger alike',
  },
  {
    name: 'max-future-skew',
    arg: '<duration>',
    default: '10m',
    help: 'records dated further ahead of this host clock are rejected (timestamp_out_of_range)',
  },
  {
    name: 'stream-buffer',
    arg: '<events>',
    default: '10000',
    help: 'usage events kept in memory for /api/stream clients resuming with Last-Event-ID (older ids get a reset event)',
  },
  { name: 'max-streams', arg: '<n>', default: '64', help: 'concurrent /api/stream clients (503 beyond)' },
  {
    name: 'stream-heartbeat',
    arg: '<duration>',
    default: '15s',
    help: 'how often /api/stream sends a heartbeat comment',
  },
  {
    name: 'label-cap',
    arg: '<label=n>',
    repeatable: true,
    help: `distinct values per label before folding into "other" (labels: ${CAPPED_LABELS.join(', ')}; defaults ${CAPPED_LABELS.map((l) => `${l}=${DEFAULT_LABEL_CAPS[l]}`).join(', ')})`,
  },
  {
    name: 'max-series',
    arg: '<n>',
    default: String(DEFAULT_MAX_SERIES),
    help: 'distinct provider/model/service/operation/feature combinations in /metrics; later ones fold into "other" (spendline_label_overflow_total{label="series"}); bounds the exposition size',
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
    'One counting process per --state-dir: a second one exits 2 naming the holder (an OS lock that',
    'dies with its holder). Limits and defaults: docs/security.md.',
    '',
    'options:',
    ...rows,
    '  --help\n      this text',
    '',
    'environment: SPENDLINE_API_TOKEN = bearer token for /api (required unless --listen is loopback;',
    '  printable ASCII without spaces).',
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
  for (const name of ['max-line-bytes', 'batch-bytes', 'max-series', 'stream-buffer', 'max-streams']) {
    const n = positiveInt(one(name) as string);
    if (n === undefined)
      return { ok: false, reason: `--${name} must be a positive integer, got "${one(name)}"` };
    numbers[name] = n;
  }
  for (const name of [
    'dedup-window',
    'poll-interval',
    'max-record-age',
    'max-future-skew',
    'stream-heartbeat',
  ]) {
    const n = parseDurationMs(one(name) as string);
    if (n === undefined || n <= 0)
      return { ok: false, reason: `--${name} must be a duration like 250ms, 30s, 24h; got "${one(name)}"` };
    numbers[name] = n;
  }
  const ledgerUrl = one('ledger') ?? (env.SPENDLINE_LEDGER_URL === '' ? undefined : env.SPENDLINE_LEDGER_URL);
  if (ledgerUrl !== undefined) {
    const ok = checkLedgerUrl(ledgerUrl);
    if (!ok.ok) return { ok: false, reason: `--ledger: ${ok.reason}` };
  }
  const sidecarId = one('sidecar-id');
  if (sidecarId !== undefined) {
    if (ledgerUrl === undefined)
      return {
        ok: false,
        reason:
          '--sidecar-id names a sidecar on a shared ledger; give --ledger postgres://… too (a SQLite ledger has one sidecar)',
      };
    const ok = checkSidecarId(sidecarId);
    if (!ok.ok) return { ok: false, reason: ok.reason };
  }
  const holdMs = parseDurationMs(one('first-increment-hold') as string);
  if (holdMs === undefined)
    return {
      ok: false,
      reason: `--first-increment-hold must be a duration like 0s, 30s, 1m; got "${one('first-increment-hold')}"`,
    };
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
  const apiToken = env.SPENDLINE_API_TOKEN;
  // A bearer token travels in a header: a space, a control character (a secret file's trailing
  // newline) or a non-ASCII letter in it would make every request 401 with no hint why.
  if (apiToken !== undefined && apiToken !== '' && !/^[\x21-\x7e]+$/.test(apiToken))
    return {
      ok: false,
      reason:
        'SPENDLINE_API_TOKEN must be printable ASCII without spaces or line breaks (a trailing newline from a secret file?)',
    };
  return {
    ok: true,
    help: false,
    config: {
      otlpGlobs,
      jsonlGlobs,
      stateDir: one('state-dir') as string,
      ...(ledgerUrl !== undefined ? { ledgerUrl } : {}),
      ...(sidecarId !== undefined ? { sidecarId } : {}),
      listen: { host, port },
      pricesFile: one('prices'),
      billingGlobs: many('billing'),
      budgetsFile: one('budgets'),
      maxLineBytes: numbers['max-line-bytes'] as number,
      batchBytes: numbers['batch-bytes'] as number,
      dedupWindowMs: numbers['dedup-window'] as number,
      pollIntervalMs: numbers['poll-interval'] as number,
      maxRecordAgeMs: numbers['max-record-age'] as number,
      maxFutureSkewMs: numbers['max-future-skew'] as number,
      labelCaps,
      firstIncrementHoldMs: holdMs,
      maxSeries: numbers['max-series'] as number,
      streamBuffer: numbers['stream-buffer'] as number,
      maxStreams: numbers['max-streams'] as number,
      streamHeartbeatMs: numbers['stream-heartbeat'] as number,
      apiToken,
    },
  };
}
