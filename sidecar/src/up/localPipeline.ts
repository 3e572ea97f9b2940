import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSidecarArgs, type RunningSidecar, startSidecar } from '../index.js';
import { prepareStateDir } from '../ledger/stateDirLock.js';
import { hostPortText } from '../listenError.js';
import { type RunningReceiver, startOtlpReceiver } from '../receiver/index.js';
import { LOCAL_SCRAPE_INTERVAL_S, type LocalPrometheus, startLocalPrometheus } from './localPrometheus.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface LocalPipelineOptions {
  stateDir: string;
  otlpListen: HostPort;
  /** The OTLP/gRPC address (`spendline up` default 127.0.0.1:4317); undefined: HTTP only. */
  otlpGrpcListen?: HostPort | undefined;
  /** The sidecar's HTTP address (status page, /metrics, /api). */
  listen: HostPort;
  /** Extra sidecar flags passed through (--prices, --billing, --budgets, …). */
  sidecarArgs: string[];
  withPrometheus?: { prometheusListen: HostPort; alertmanagerListen: HostPort };
  rotateBytes: number;
  /** Keep prompt and completion content in the export file (default: deleted, as the collector does). */
  keepContent?: boolean;
  log: (line: string) => void;
}

export interface LocalPipeline {
  otlpUrl: string;
  /** The OTLP/gRPC endpoint, when one was asked for. */
  otlpGrpcUrl: string | undefined;
  sidecarUrl: string;
  exportFile: string;
  prometheus: LocalPrometheus | undefined;
  sidecar: RunningSidecar;
  receiver: RunningReceiver;
  /** Stops accepting telemetry, lets the sidecar count what was written, commits, stops children. */
  stop(): Promise<StopSummary>;
}

/** What this run received and counted and what `stop` could establish, so `up` says only what is true. */
export interface StopSummary {
  /** OTLP requests the receiver accepted and lines it wrote to the export file. */
  requestsAccepted: number;
  linesWritten: number;
  /** `spendline_records_total` by result (counted, duplicate, rejected, ignored), as committed. */
  records: Record<string, number>;
  /** Export bytes the sidecar had not read when it stopped (-1: unknown, /metrics did not answer). */
  unreadBytes: number;
  /** Records the sidecar rejected since its ledger began (by reason in spendline_rejected_records_total). */
  rejectedRecords: number;
  /** Requests answered 503 because the export file could not be written (exporters retry them). */
  writeFailures: number;
}

const PROMETHEUS_ASSETS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'prometheus');
const hostPort = (a: HostPort) => hostPortText(a.host, a.port);

/**
 * The whole pipeline in one process, for a laptop: a local OTLP/HTTP receiver standing in for the
 * collector (same file-export format and rotation), the sidecar tailing that file, and optionally
 * Prometheus and Alertmanager as children with the project's rules.
 */
export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  prepareStateDir(options.stateDir); // a state dir that cannot be written is named as such, first
  const exportDir = join(options.stateDir, 'otlp');
  mkdirSync(exportDir, { recursive: true });
  const exportFile = join(exportDir, 'export.jsonl');
  const parsed = parseSidecarArgs([
    '--otlp-file',
    exportFile,
    '--state-dir',
    options.stateDir,
    '--listen',
    hostPort(options.listen),
    // Two intervals of the local Prometheus' 5 s scrape (LOCAL_SCRAPE_INTERVAL_S).
    '--first-increment-hold',
    `${2 * LOCAL_SCRAPE_INTERVAL_S}s`,
    ...options.sidecarArgs,
  ]);
  if (!parsed.ok) throw new Error(parsed.reason);
  if (parsed.help) throw new Error('unexpected --help');
  const sidecar = await startSidecar(parsed.config);
  let receiver: RunningReceiver;
  try {
    receiver = await startOtlpReceiver({
      host: options.otlpListen.host,
      port: options.otlpListen.port,
      filePath: exportFile,
      rotateBytes: options.rotateBytes,
      // Lines the receiver writes are never longer than what the sidecar reads.
      maxLineBytes: parsed.config.maxLineBytes,
      grpc: options.otlpGrpcListen,
      keepContent: options.keepContent,
    });
  } catch (err) {
    await sidecar.stop();
    throw err;
  }
  let prometheus: LocalPrometheus | undefined;
  if (options.withPrometheus) {
    const sidecarTarget = new URL(sidecar.url).host;
    try {
      prometheus = await startLocalPrometheus({
        dir: join(options.stateDir, 'prometheus'),
        assetsDir: PROMETHEUS_ASSETS,
        sidecarTarget,
        prometheusListen: hostPort(options.withPrometheus.prometheusListen),
        alertmanagerListen: hostPort(options.withPrometheus.alertmanagerListen),
      });
    } catch (err) {
      await receiver.close();
      await sidecar.stop();
      throw err;
    }
  }
  let stopping: Promise<StopSummary> | undefined;
  return {
    otlpUrl: receiver.url,
    otlpGrpcUrl: receiver.grpcUrl,
    sidecarUrl: sidecar.url,
    exportFile,
    prometheus,
    sidecar,
    receiver,
    stop() {
      stopping ??= (async () => {
        // Children stop in parallel with the sidecar's final commit, so the whole stop stays short.
        const children = prometheus?.stop();
        await receiver.close();
        const metricsText = await waitUntilRead(sidecar.url, 15_000);
        await sidecar.stop();
        await children;
        const { accepted, linesWritten, writeFailures } = receiver.stats();
        // From the sidecar itself, after its last commit: /metrics holds a new series at 0 until a
        // scrape and the first-increment hold have passed, and without Prometheus nothing scrapes.
        const counts = sidecar.recordCounts();
        return {
          requestsAccepted: accepted,
          linesWritten,
          records: counts.byResult,
          unreadBytes: unreadBytesOf(metricsText),
          rejectedRecords: counts.rejected,
          writeFailures,
        };
      })();
      return stopping;
    },
  };
}

/** Unread export bytes in a /metrics text (a gauge, never held); -1 when unknown. */
function unreadBytesOf(metricsText: string | undefined): number {
  if (metricsText === undefined) return -1;
  let unread = 0;
  for (const line of metricsText.split('\n'))
    if (line.startsWith('spendline_unread_bytes')) unread += Number(line.slice(line.lastIndexOf(' ') + 1));
  return unread;
}

/**
 * Waits until the sidecar reports no unread bytes, so nothing written is left for the next start.
 * Returns the last /metrics text read (undefined when the sidecar did not answer).
 */
async function waitUntilRead(sidecarUrl: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let text: string | undefined;
  while (Date.now() < deadline) {
    try {
      text = await (await fetch(`${sidecarUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    } catch {
      return text;
    }
    if (unreadBytesOf(text) === 0) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  return text;
}
