import { tuneHeapForCounting } from '../heap.js';
import { SidecarIdInUseError } from '../ledger/pgStore.js';
import { StateDirLockedError } from '../ledger/stateDirLock.js';
import { ListenError, type Listener } from '../listenError.js';
import { fail, parseCommandArgs, stateDirOf } from '../report/commandSupport.js';
import { isLoopbackAddress } from '../server/hostCheck.js';
import { type HostPort, type StopSummary, startLocalPipeline } from '../up/localPipeline.js';

const HELP = `usage: spendline up [--state-dir DIR] [--otlp-listen HOST:PORT] [--otlp-grpc-listen HOST:PORT|off]
                    [--listen HOST:PORT]
                    [--with-prometheus] [--prometheus-listen HOST:PORT] [--alertmanager-listen HOST:PORT]
                    [--rotate-mb N] [--keep-content] [--prices FILE] [--billing GLOB] [--budgets FILE]
                    [--ledger URL [--sidecar-id ID]]

Runs, in one process:
  - a local OTLP receiver (logs and traces; OTLP/HTTP JSON or protobuf, gzip; and OTLP/gRPC)
    standing in for the OpenTelemetry Collector: it appends to <state-dir>/otlp/export.jsonl in
    exactly the collector's file-export format, rotated like the collector's file exporter,
    with prompt and completion content deleted as the collector config deletes it;
  - the sidecar tailing that file: ledger, /metrics, /api, and the status page at /.
With --with-prometheus it also starts prometheus and prometheus-alertmanager (when installed) on
loopback with the project's recording and alert rules (every group, by absolute path; the sidecar
scraped as job spendline-sidecar; OtelCollectorDown left out, as there is no collector). Their
output goes to <state-dir>/prometheus/prometheus.log and alertmanager.log, named on failure.

  --state-dir DIR              state (ledger, export files) (default ./.spendline)
  --otlp-listen HOST:PORT      OTLP/HTTP receiver (default 127.0.0.1:4318)
  --otlp-grpc-listen H:P|off   OTLP/gRPC receiver, for SDKs whose default is gRPC (default 127.0.0.1:4317)
  --listen HOST:PORT           sidecar HTTP: status page, /metrics, /api (default 127.0.0.1:9464)
  --with-prometheus            also run Prometheus and Alertmanager
  --prometheus-listen H:P      (default 127.0.0.1:9090)
  --alertmanager-listen H:P    (default 127.0.0.1:9093)
  --rotate-mb N                rotate the export file at N MiB (default 100)
  --keep-content               keep prompt and completion content in the export file; by default the
                               receiver deletes it as the collector's transform/strip_content does
  --prices, --billing, --budgets   passed to the sidecar (see "npx spendline sidecar --help")
  --ledger URL                 count into a PostgreSQL ledger shared by many sidecars,
                               postgres://user[:password]@host[:port]/db (also SPENDLINE_LEDGER_URL);
                               default: SQLite in --state-dir
  --sidecar-id ID              this sidecar's identity on that ledger (default: kept in <state-dir>/sidecar-id)

Ctrl-C (SIGINT), SIGTERM and SIGHUP stop cleanly: the receiver stops accepting, the sidecar counts
everything written and commits, Prometheus and Alertmanager stop, and the final counts are printed.
It then says what it established (anything left unread, rejected records, requests refused
because the export file could not be written). A restart continues where it stopped. A second
\`up\` or sidecar on the same --state-dir, or with the same --sidecar-id on one --ledger, is
refused (exit 2).`;

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** What to do when a listener's address is taken (often by another `spendline up`). */
const MOVE_LISTENER: Record<Listener, string> = {
  'otlp-http': 'another `spendline up` or collector? choose another address with --otlp-listen HOST:PORT',
  'otlp-grpc':
    'another `spendline up` or collector? choose another address with --otlp-grpc-listen HOST:PORT, or --otlp-grpc-listen off',
  sidecar: 'another `spendline up` or sidecar? choose another address with --listen HOST:PORT',
};

/** The command that sends demo traffic to this receiver, in the form the user started `up` with. */
export function demoHint(otlpUrl: string, viaNpm: boolean): string {
  const endpoint = otlpUrl === 'http://127.0.0.1:4318' ? '' : ` --endpoint ${otlpUrl}`;
  if (viaNpm) return endpoint === '' ? 'npm run demo' : `npm run demo --${endpoint}`;
  return `npx spendline demo${endpoint}`;
}

function formatFinalCounts(c: StopSummary): string {
  const records = ['counted', 'duplicate', 'rejected', 'ignored']
    .map((r) => `${c.records[r] ?? 0} ${r}`)
    .join(', ');
  return `spendline up: final counts: ${c.requestsAccepted} OTLP requests received, ${c.linesWritten} lines written; records: ${records}`;
}

function parseHostPort(name: string, value: string): HostPort | string {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) return `--${name} must be HOST:PORT, got ${JSON.stringify(value)}`;
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/**
 * The banner's warning when the status page would show nothing: on a non-loopback address the
 * usage API (which the page reads) answers 401 until SPENDLINE_API_TOKEN is set.
 */
export function apiTokenNote(boundHost: string, apiToken: string): string | undefined {
  if (apiToken !== '' || isLoopbackAddress(boundHost.replace(/^\[|\]$/g, ''))) return undefined;
  return (
    `  Note: ${boundHost} is not loopback, so the usage API and the status page's figures stay off ` +
    '(401) until SPENDLINE_API_TOKEN is set; the page then asks for the token once.'
  );
}

/** What `up` says when it stops: only what the stop established. */
export function stopReport(
  s: Pick<StopSummary, 'unreadBytes' | 'rejectedRecords' | 'writeFailures'>,
): string[] {
  const out: string[] = [];
  if (s.unreadBytes === 0)
    out.push('stopped; every acknowledged request was read and committed to the ledger.');
  else if (s.unreadBytes > 0)
    out.push(`stopped with ${s.unreadBytes} bytes of the export not yet read; the next start counts them.`);
  else
    out.push('stopped; could not confirm that the export was read to the end; the next start continues it.');
  if (s.rejectedRecords > 0)
    out.push(
      `${s.rejectedRecords} records were rejected, not counted (by reason in spendline_rejected_records_total).`,
    );
  if (s.writeFailures > 0)
    out.push(
      `${s.writeFailures} requests could not be written to the export file and were answered 503 (exporters retry them).`,
    );
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'state-dir': { type: 'string' },
      'otlp-listen': { type: 'string' },
      'otlp-grpc-listen': { type: 'string' },
      listen: { type: 'string' },
      'with-prometheus': { type: 'boolean' },
      'prometheus-listen': { type: 'string' },
      'alertmanager-listen': { type: 'string' },
      'rotate-mb': { type: 'string' },
      'keep-content': { type: 'boolean' },
      prices: { type: 'string' },
      billing: { type: 'string', multiple: true },
      budgets: { type: 'string' },
      ledger: { type: 'string' },
      'sidecar-id': { type: 'string' },
    },
    HELP,
  );
  if (!parsed.ok) return parsed.exitCode;
  const values: Record<string, string | boolean | string[] | undefined> = parsed.values;
  const addr = (name: string, fallback: string): HostPort | string =>
    parseHostPort(name, (values[name] as string | undefined) ?? fallback);
  const otlpListen = addr('otlp-listen', '127.0.0.1:4318');
  const grpcValue = (values['otlp-grpc-listen'] as string | undefined) ?? '127.0.0.1:4317';
  const otlpGrpcListen = grpcValue === 'off' ? undefined : addr('otlp-grpc-listen', grpcValue);
  const listen = addr('listen', process.env.SPENDLINE_LISTEN ?? '127.0.0.1:9464');
  const prometheusListen = addr('prometheus-listen', '127.0.0.1:9090');
  const alertmanagerListen = addr('alertmanager-listen', '127.0.0.1:9093');
  for (const a of [otlpListen, otlpGrpcListen, listen, prometheusListen, alertmanagerListen])
    if (typeof a === 'string') return fail(a);
  const rotateMb = (values['rotate-mb'] as string | undefined) ?? '100';
  if (!/^\d+$/.test(rotateMb) || Number(rotateMb) < 1)
    return fail(`--rotate-mb must be a positive integer, got ${JSON.stringify(rotateMb)}`);
  const sidecarArgs: string[] = [];
  if (values.prices) sidecarArgs.push('--prices', values.prices as string);
  for (const b of (values.billing as string[] | undefined) ?? []) sidecarArgs.push('--billing', b);
  if (values.budgets) sidecarArgs.push('--budgets', values.budgets as string);
  if (values.ledger) sidecarArgs.push('--ledger', values.ledger as string);
  if (values['sidecar-id']) sidecarArgs.push('--sidecar-id', values['sidecar-id'] as string);
  const stateDir = stateDirOf(values['state-dir'] as string | undefined);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  let pipeline: Awaited<ReturnType<typeof startLocalPipeline>>;
  tuneHeapForCounting();
  try {
    pipeline = await startLocalPipeline({
      stateDir,
      otlpListen: otlpListen as HostPort,
      otlpGrpcListen: otlpGrpcListen as HostPort | undefined,
      listen: listen as HostPort,
      sidecarArgs,
      withPrometheus: values['with-prometheus']
        ? {
            prometheusListen: prometheusListen as HostPort,
            alertmanagerListen: alertmanagerListen as HostPort,
          }
        : undefined,
      rotateBytes: Number(rotateMb) * 1024 * 1024,
      keepContent: values['keep-content'] === true,
      log,
    });
  } catch (err) {
    const message = (err as Error).message;
    const hint = err instanceof ListenError ? ` (${MOVE_LISTENER[err.listener]})` : '';
    return fail(
      `could not start: ${message}${hint}`,
      err instanceof StateDirLockedError || err instanceof SidecarIdInUseError ? 2 : 1,
    );
  }
  log('spendline is up.');
  log('');
  log('  Point services at it:');
  log(`    export OTLP_ENDPOINT=${pipeline.otlpUrl}`);
  if (pipeline.otlpGrpcUrl !== undefined)
    log(`    (an SDK exporting OTLP/gRPC: OTEL_EXPORTER_OTLP_ENDPOINT=${pipeline.otlpGrpcUrl})`);
  log('');
  log(`  Status page     ${pipeline.sidecarUrl}/`);
  log(`  Metrics         ${pipeline.sidecarUrl}/metrics`);
  log(`  Usage API       ${pipeline.sidecarUrl}/api/usage`);
  const tokenNote = apiTokenNote(
    new URL(pipeline.sidecarUrl).hostname,
    process.env.SPENDLINE_API_TOKEN ?? '',
  );
  log(`  OTLP receiver   ${pipeline.otlpUrl}/v1/logs, ${pipeline.otlpUrl}/v1/traces`);
  if (pipeline.otlpGrpcUrl !== undefined) log(`  OTLP/gRPC       ${pipeline.otlpGrpcUrl}`);
  log(`  Export file     ${pipeline.exportFile}`);
  if (pipeline.prometheus) {
    log(`  Prometheus      ${pipeline.prometheus.prometheusUrl}`);
    log(`  Alertmanager    ${pipeline.prometheus.alertmanagerUrl}`);
    log(`  Their output    ${pipeline.prometheus.logs.prometheus}, ${pipeline.prometheus.logs.alertmanager}`);
  }
  if (tokenNote !== undefined) log(tokenNote);
  log('');
  // npm sets npm_lifecycle_event for `npm start`; then `npm run demo` is the matching command.
  const viaNpm = process.env.npm_lifecycle_event === 'start';
  log(
    `  Try: ${demoHint(pipeline.otlpUrl, viaNpm)}   (sends traffic through the real openai/anthropic clients to a fake provider)`,
  );
  log('  Ctrl-C (or SIGTERM) stops everything cleanly.');

  return new Promise<number>((resolveExit) => {
    let code = 0;
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return; // a second signal (npm forwards one, the terminal sends one) changes nothing
      stopping = true;
      log(`spendline up: ${signal}: counting what was received, then stopping…`);
      pipeline.stop().then(
        (summary) => {
          for (const s of STOP_SIGNALS) process.off(s, onSignal);
          log(formatFinalCounts(summary));
          for (const line of stopReport(summary)) log(`spendline up: ${line}`);
          resolveExit(code);
        },
        (err: Error) => {
          for (const s of STOP_SIGNALS) process.off(s, onSignal);
          process.stderr.write(`spendline up: stop failed: ${err.message}\n`);
          resolveExit(1);
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals) => shutdown(signal);
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
    pipeline.sidecar.failed.catch((err: Error) => {
      process.stderr.write(`spendline up: the sidecar failed: ${err.message}\n`);
      code = 1;
      shutdown('failure');
    });
  });
}
