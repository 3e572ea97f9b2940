/**
 * Embeddable sidecar: `startSidecar(config)` runs the counting pipeline and the HTTP server in this
 * process (used by `spendline sidecar` and `spendline up`).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPricer } from '@spendline/sdk/core';
import { mountPipelineApi } from './api/pipelineApi.js';
import { mountStreamApi, totalsReader } from './api/streamApi.js';
import { mountTotalsStreamApi } from './api/totalsStreamApi.js';
import type { SidecarConfig } from './config.js';
import { EXTENSIONS } from './extensionList.js';
import type { SidecarExtension } from './extensions.js';
import { openLedgerStore, sidecarIdOf } from './ledger/openStore.js';
import { lockStateDir } from './ledger/stateDirLock.js';
import type { LedgerStore } from './ledger/store.js';
import { hostPortText, ListenError } from './listenError.js';
import { createSidecarMetrics } from './metrics.js';
import { FirstIncrementHold } from './pipeline/committedMetrics.js';
import { type IngestLoop, startIngestLoop } from './pipeline/ingestLoop.js';
import { createApp } from './server/app.js';
import { answerClientErrors } from './server/httpHardening.js';
import { UsageStream } from './stream/usageStream.js';

export type { SidecarConfig } from './config.js';
export { parseSidecarArgs } from './config.js';
export { openLedgerStore } from './ledger/openStore.js';
export { SidecarIdInUseError } from './ledger/pgStore.js';
export { StateDirLockedError } from './ledger/stateDirLock.js';
export type { LedgerStore } from './ledger/store.js';

export interface RunningSidecar {
  /** Base URL, e.g. http://127.0.0.1:9464 (the real port when 0 was asked for). */
  url: string;
  /** Resolves once the backlog present at start is read and committed (/readyz turns 200). */
  ready: Promise<void>;
  /** Rejects if the counting pipeline fails (e.g. the ledger cannot be written). */
  failed: Promise<never>;
  /** Commits the current batch, stops extensions and the server, closes the ledger. */
  stop(): Promise<void>;
  /** The ledger (SQLite, or the shared PostgreSQL one). */
  db: LedgerStore;
  /**
   * Committed record totals as counted: `spendline_records_total` summed by result and
   * `spendline_rejected_records_total` summed. Unlike /metrics, never held back by the first-increment
   * hold (a series is 0 there until a scrape and the hold have passed).
   */
  recordCounts(): { byResult: Record<string, number>; rejected: number };
}

const DEFAULT_PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'public');

export async function startSidecar(config: SidecarConfig): Promise<RunningSidecar> {
  const now = config.now ?? Date.now;
  const metrics = createSidecarMetrics(undefined, new FirstIncrementHold(config.firstIncrementHoldMs));
  const pricer = createPricer(config.pricesFile !== undefined ? { overrides: config.pricesFile } : undefined);
  // One counting process per state dir: a second one would count every record again.
  const lock = lockStateDir(config.stateDir);
  let db: LedgerStore;
  let ingest: IngestLoop;
  try {
    db = await openLedgerStore({
      url: config.ledgerUrl,
      stateDir: config.stateDir,
      ...(config.ledgerUrl !== undefined
        ? { sidecarId: sidecarIdOf(config.stateDir, config.sidecarId) }
        : {}),
    });
  } catch (err) {
    lock.release();
    throw err;
  }
  let stream!: UsageStream;
  try {
    ingest = await startIngestLoop(db, metrics, pricer, {
      otlpGlobs: config.otlpGlobs,
      jsonlGlobs: config.jsonlGlobs,
      maxLineBytes: config.maxLineBytes,
      batchBytes: config.batchBytes,
      pollIntervalMs: config.pollIntervalMs,
      dedupWindowMs: config.dedupWindowMs,
      labelCaps: config.labelCaps,
      maxSeries: config.maxSeries,
      maxRecordAgeMs: config.maxRecordAgeMs,
      maxFutureSkewMs: config.maxFutureSkewMs,
      now,
      onCommit: (deltas, dropped) => stream.publish(deltas, dropped),
      commitSection: (commit) => stream.exclusive(commit),
      keepDeltas: () => stream.keepDeltas(),
      onLoad: (state) => {
        stream = new UsageStream(
          state.eventSeq,
          { bufferSize: config.streamBuffer ?? 10_000, maxStreams: config.maxStreams ?? 64 },
          totalsReader(db),
        );
      },
    });
  } catch (err) {
    await db.close();
    lock.release();
    throw err;
  }
  let ready = false;
  void ingest.ready.then(() => {
    ready = true;
  });
  // Not ready while the shared ledger is down: its API answers would fail, and its counting waits.
  const isReady = (): boolean => ready && ingest.ledgerUp();
  const { app, api, bind, seal } = createApp({
    registry: metrics.registry,
    onScrape: () => metrics.hold.beginScrape(),
    isReady,
    apiToken: config.apiToken,
    publicDir: config.publicDir ?? DEFAULT_PUBLIC_DIR,
  });
  mountStreamApi(api, db, stream, now, { heartbeatMs: config.streamHeartbeatMs ?? 15_000 });
  mountTotalsStreamApi(api, db, {
    heartbeatMs: config.streamHeartbeatMs ?? 15_000,
    maxStreams: config.maxStreams ?? 64,
  });
  mountPipelineApi(api, metrics, isReady);
  const extensions: SidecarExtension[] = config.extensions ?? EXTENSIONS;
  const started: SidecarExtension[] = [];
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = app.listen(config.listen.port, config.listen.host, (err?: Error) =>
        err
          ? reject(new ListenError('sidecar', hostPortText(config.listen.host, config.listen.port), err))
          : resolve(s),
      );
    });
  } catch (err) {
    await ingest.stop();
    await db.close();
    lock.release();
    throw err;
  }
  bind(server.address() as AddressInfo);
  answerClientErrors(server);
  try {
    for (const ext of extensions) {
      await ext.start({
        db,
        registry: metrics.registry,
        api,
        config: {
          stateDir: config.stateDir,
          billingGlobs: config.billingGlobs,
          budgetsFile: config.budgetsFile,
          pricesFile: config.pricesFile,
        },
        now,
      });
      started.push(ext);
    }
    seal();
  } catch (err) {
    await ingest.stop();
    server.close();
    await db.close();
    lock.release();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let stopped: Promise<void> | undefined;
  const failed = ingest.done.then(() => new Promise<never>(() => undefined));
  failed.catch(() => undefined); // an embedder that never awaits `failed` must not crash on it
  return {
    url: `http://${host}:${address.port}`,
    ready: ingest.ready,
    failed,
    db,
    recordCounts() {
      const byResult: Record<string, number> = {};
      for (const { values, total } of metrics.counters.records.series.values()) {
        const result = values[1] ?? '';
        byResult[result] = (byResult[result] ?? 0) + total;
      }
      let rejected = 0;
      for (const { total } of metrics.counters.rejected.series.values()) rejected += total;
      return { byResult, rejected };
    },
    stop() {
      stopped ??= (async () => {
        await ingest.stop();
        for (const ext of started.reverse()) await ext.stop?.();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await db.close();
        lock.release();
      })();
      return stopped;
    },
  };
}
