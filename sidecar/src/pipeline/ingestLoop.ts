import { performance } from 'node:perf_hooks';
import type { Pricer } from '@spendline/sdk/core';
import { yieldToLoop } from '../eventLoop.js';
import { createPipelineStore, type PipelineState } from '../ledger/pipelineStore.js';
import { isTransientLedgerError, type LedgerStore } from '../ledger/store.js';
import type { UsageDelta } from '../ledger/usageTotals.js';
import type { SidecarMetrics } from '../metrics.js';
import { createTailer } from '../tail/index.js';
import type { FileCheckpoint, TailBatch, TailLine } from '../tail/types.js';
import { BatchEffects } from './batchEffects.js';
import { countLines, countOversized, finishSettle, settleGroups } from './countBatch.js';
import { type CappedLabel, LabelCaps } from './labelCaps.js';

export interface IngestOptions {
  /** Called once with the committed state, after it is loaded and before anything is counted. */
  onLoad?(state: PipelineState): void;
  otlpGlobs: string[];
  jsonlGlobs: string[];
  maxLineBytes: number;
  /** Line bytes per batch at most (one ledger transaction each). */
  batchBytes: number;
  /** A batch is committed once it has been open this long, even if smaller (default 1000 ms). */
  batchMs?: number;
  /**
   * ... or once it would write this many rollup rows (bounds the commit's duration). Default: adapts
   * so a commit takes about COMMIT_TARGET_MS on this machine (2000 to 40000 rows, starting at 2000).
   */
  batchRows?: number;
  /** Wait between polls once caught up. */
  pollIntervalMs: number;
  dedupWindowMs: number;
  labelCaps: Record<CappedLabel, number>;
  /** Distinct label combinations in /metrics before folding into `other` (default DEFAULT_MAX_SERIES). */
  maxSeries?: number;
  /** Records dated more than this before now are rejected (timestamp_out_of_range); default 3650 days. */
  maxRecordAgeMs?: number;
  /** Records dated more than this after now are rejected (timestamp_out_of_range); default 10 minutes. */
  maxFutureSkewMs?: number;
  now(): number;
  /**
   * Called right after each commit with the batch's usage deltas (ids set, in counting order) and
   * how many deltas before them were not kept (`keepDeltas`): the live stream publishes them (it may
   * read the ledger; the next batch commits after it settles). Must not throw or reject.
   */
  onCommit?(deltas: readonly UsageDelta[], dropped: number): void | Promise<void>;
  /**
   * Runs each commit attempt together with its `onCommit` as one piece (default: just runs it): the
   * live stream serialises its readers of the ledger against it.
   */
  commitSection?<T>(commit: () => Promise<T>): Promise<T>;
  /** How many of a batch's deltas to keep at least when counting starts (default all; see BatchEffects). */
  keepDeltas?(): number;
}

export interface IngestLoop {
  /** Resolves once every file present at start has been read and committed. */
  ready: Promise<void>;
  /** Rejects if the loop fails (e.g. the ledger cannot be written): the caller should exit non-zero. */
  done: Promise<void>;
  /** Finishes and commits the current batch, then stops. */
  stop(): Promise<void>;
  /** False while the ledger cannot be reached (a shared ledger down; the loop retries). */
  ledgerUp(): boolean;
}

function checkpointsSignature(cps: FileCheckpoint[]): string {
  return cps
    .map((c) => `${c.dev}:${c.ino}:${c.fingerprint}:${c.offset}:${c.path}`)
    .sort()
    .join('|');
}

/** --max-record-age and --max-future-skew defaults (see docs/security.md). */
export const DEFAULT_MAX_RECORD_AGE_MS = 3650 * 86_400_000;
export const DEFAULT_MAX_FUTURE_SKEW_MS = 10 * 60_000;

/**
 * Line bytes per tail poll, counted in one synchronous slice; the event loop runs (scrapes, I/O)
 * between polls. Small polls keep each slice short and let the lines die young (cheap to collect).
 */
const POLL_BYTES = 1024 * 1024;
/**
 * A backlog batch's commit should take about this long (see adaptBatchRows). On SQLite the commit is
 * written in slices (the event loop runs between them), so a batch can be large: fewer upserts of the
 * same rows. On PostgreSQL a commit holds the locks of rows every sidecar adds into (a service's or
 * feature's running total, the hour's rollups) until it ends: short transactions keep a fleet's
 * commits interleaved (measured: three sidecars 1.53x one with 200 ms commits, 1.83x with 50 ms).
 */
const COMMIT_TARGET_MS = { sqlite: 200, postgres: 50 } as const;
const MIN_BATCH_ROWS = 2000;
const MAX_BATCH_ROWS = 40000;
/** A poll's lines are counted in synchronous slices of about this long (see countPoll). */
const COUNT_SLICE_MS = 20;
/** Usage groups settled per synchronous step of a batch's settle. */
const SETTLE_GROUPS = 500;
/** Smallest poll budget (see pollRows in run). */
const MIN_POLL_BYTES = 64 * 1024;
/** While reading a backlog, new files are looked for this often (listing is a poll's fixed cost). */
const REDISCOVER_MS = 250;

/** Event-loop turns the read-ahead poll gets before a poll is counted (each turn is ~0.1 ms at most). */
const READ_AHEAD_TURNS = 4;

/**
 * tail -> decode -> dedup -> price -> ledger commit -> registry. A batch gathers tail polls until it
 * is caught up, or reaches `batchBytes`, `batchRows` or `batchMs`; then it is committed in one
 * transaction.
 */
export async function startIngestLoop(
  ledger: LedgerStore,
  metrics: SidecarMetrics,
  pricer: Pricer,
  options: IngestOptions,
): Promise<IngestLoop> {
  // Load the price catalog now, at start, rather than inside the first batch.
  pricer.priceUsage(
    {
      inputTokens: 1,
      outputTokens: 1,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      reasoningOutputTokens: 0,
    },
    { provider: 'openai', model: 'gpt-4o' },
  );
  const batchMs = options.batchMs ?? 1000;
  const maxRecordAgeMs = options.maxRecordAgeMs ?? DEFAULT_MAX_RECORD_AGE_MS;
  const maxFutureSkewMs = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  let batchRows = options.batchRows ?? MIN_BATCH_ROWS;
  const section = options.commitSection ?? (<T>(commit: () => Promise<T>) => commit());
  const store = createPipelineStore(ledger, metrics);
  const state = await store.load();
  options.onLoad?.(state);
  // A shared ledger may refuse a batch whose records another sidecar committed first: the batch is
  // then counted again from its lines, so they are kept until it commits.
  const keepPolls = ledger.kind === 'postgres';
  let ledgerUp = true;
  metrics.gauges.ledgerUp.set(1);
  metrics.gauges.recounts.set(0);
  let recounts = 0;
  const caps = new LabelCaps(options.labelCaps, options.maxSeries);
  for (const [label, value] of state.labelValues) caps.restore(label, value);
  // A newest-record time from the future (stored before records were checked against the clock)
  // would hold the freshness gauge for good: it is dropped, and the next record sets it.
  let lastRecordMs = state.lastRecordMs > options.now() + maxFutureSkewMs ? 0 : state.lastRecordMs;
  if (lastRecordMs > 0) metrics.gauges.lastRecordTimestamp.set(lastRecordMs / 1000);
  metrics.gauges.ready.set(0);
  const tailer = createTailer({
    otlpGlobs: options.otlpGlobs,
    jsonlGlobs: options.jsonlGlobs,
    maxLineBytes: options.maxLineBytes,
    checkpoints: state.checkpoints,
    rediscoverMs: REDISCOVER_MS,
  });
  let committedSignature = checkpointsSignature(state.checkpoints);
  let stopping = false;
  let wake: (() => void) | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  let batches = 0;

  // The open batch: polls counted since the last commit.
  let fx = new BatchEffects(metrics);
  let fxBytes = 0;
  let fxOpenedAt = 0;
  let fxWorkMs = 0;
  let fxDirty = false;
  let fxCheckpoints = state.checkpoints;
  let fxPolls: TailBatch[] = [];
  let nowMs = options.now();
  const ctx = {
    metrics,
    pricer,
    caps,
    claimKey: (key: string) => store.claim(key, nowMs, options.dedupWindowMs),
    plausibleTime: (ms: number) => ms >= nowMs - maxRecordAgeMs && ms <= nowMs + maxFutureSkewMs,
  };

  /**
   * Settles the open batch and commits it in one transaction; the registry shows it only after.
   * `yieldFirst`: the event loop runs before the settle, between its steps and before the commit, so
   * the poll's count, the settle and the commit are separate synchronous slices rather than one.
   */
  async function commitOpenBatch(yieldFirst: boolean): Promise<void> {
    const rows = fx.pendingRows;
    let settleMs = await settle(yieldFirst);
    const t1 = performance.now();
    fx.lastRecordMs = Math.max(lastRecordMs, fx.lastRecordMs);
    let failures = 0;
    for (;;) {
      let outcome: Awaited<ReturnType<typeof store.commit>>;
      let committed = false;
      try {
        outcome = await section(async () => {
          const o = await store.commit(fx, fxCheckpoints, options.now(), options.dedupWindowMs);
          committed = o.ok;
          if (o.ok && fx.deltaCount > 0) await options.onCommit?.(fx.deltas, fx.droppedDeltas);
          return o;
        });
      } catch (err) {
        // A failure after the commit (while publishing it) is not a reason to count the batch again.
        if (committed || !keepPolls || !isTransientLedgerError(err)) throw err;
        // The shared ledger is unreachable, and the commit may or may not have landed. Nothing
        // further is read; wait (with backoff) until the ledger answers, then learn the outcome from
        // the ledger itself (and publish the batch if it did commit). A stop meanwhile leaves the
        // batch to the next start: if it did not commit, its offsets did not either, and its lines
        // are read again.
        let resolved: BatchEffects | null | undefined;
        while (resolved === undefined) {
          metrics.gauges.ledgerUp.set(0);
          ledgerUp = false;
          failures += 1;
          if (stopping && failures >= 3) throw err;
          await sleep(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)));
          try {
            resolved = await section(async () => {
              const r = await store.resolveInDoubt();
              if (r !== null && r.deltaCount > 0) await options.onCommit?.(r.deltas, r.droppedDeltas);
              return r;
            });
          } catch (again) {
            if (!isTransientLedgerError(again)) throw again;
          }
        }
        outcome = resolved === null ? { ok: false, taken: 0 } : { ok: true, fx: resolved };
      }
      if (outcome.ok) break;
      // Count the batch again: without the records another sidecar committed first, or with fresh
      // claims after an attempt that did not commit.
      if (outcome.taken > 0) metrics.gauges.recounts.set(++recounts);
      // Label values the failed attempt admitted stay admitted: persist them with the retry.
      const admitted = fx.admittedLabels;
      recount();
      settleMs += await settle(false);
      fx.admittedLabels = admitted.concat(fx.admittedLabels);
      fx.lastRecordMs = Math.max(lastRecordMs, fx.lastRecordMs);
    }
    metrics.gauges.ledgerUp.set(1);
    ledgerUp = true;
    const commitMs = performance.now() - t1;
    if (options.batchRows === undefined && yieldFirst) adaptBatchRows(rows, commitMs);
    lastRecordMs = fx.lastRecordMs;
    metrics.gauges.lastCommitSeconds.set((fxWorkMs + settleMs + commitMs) / 1000);
    metrics.gauges.batches.set(++batches);
    if (lastRecordMs > 0) metrics.gauges.lastRecordTimestamp.set(lastRecordMs / 1000);
    committedSignature = checkpointsSignature(fxCheckpoints);
    fx = new BatchEffects(metrics);
    fxPolls = [];
    fxBytes = 0;
    fxWorkMs = 0;
    fxDirty = false;
  }

  /** Settles the open batch's groups, in steps (expanding thousands of groups is itself long). */
  async function settle(yieldFirst: boolean): Promise<number> {
    const groups = [...fx.groups.values()];
    let settleMs = 0;
    for (let i = 0; i < groups.length; i += SETTLE_GROUPS) {
      if (yieldFirst) await yieldToLoop();
      const t = performance.now();
      settleGroups(fx, groups, i, Math.min(groups.length, i + SETTLE_GROUPS), caps);
      settleMs += performance.now() - t;
    }
    finishSettle(fx, caps);
    if (yieldFirst) await yieldToLoop();
    return settleMs;
  }

  /** Counts the open batch's kept polls again into fresh effects (its claims were released). */
  function recount(): void {
    fx = new BatchEffects(metrics);
    nowMs = options.now();
    for (const poll of fxPolls) countInto(poll);
  }

  /** Counts a poll's oversized records and lines into the open batch. */
  function countInto(poll: TailBatch): void {
    beginPoll(poll);
    countLines(fx, poll.lines, 0, poll.lines.length, ctx);
  }

  /** Before a poll's lines: how many deltas the batch keeps, and the poll's oversized records. */
  function beginPoll(poll: TailBatch): void {
    fx.keepDeltas = options.keepDeltas?.() ?? Number.POSITIVE_INFINITY;
    countOversized(fx, poll.oversized);
  }

  /**
   * Moves the row bound towards what commits in COMMIT_TARGET_MS at the speed just measured (a
   * backlog batch's commit; small batches say little about the per-row cost): fewer, larger batches
   * where the ledger is fast, while a commit stays a short synchronous slice.
   */
  function adaptBatchRows(rows: number, commitMs: number): void {
    if (rows < MIN_BATCH_ROWS / 2 || commitMs <= 0) return;
    const fit = (COMMIT_TARGET_MS[ledger.kind] * rows) / commitMs;
    const next = Math.round(0.7 * batchRows + 0.3 * fit);
    batchRows = Math.min(MAX_BATCH_ROWS, Math.max(MIN_BATCH_ROWS, next));
  }

  /**
   * Counts a poll's lines into the open batch, in synchronous slices of about COUNT_SLICE_MS (a line
   * is never split), the event loop running between them; returns the line bytes counted.
   */
  async function countPoll(poll: TailBatch): Promise<number> {
    nowMs = options.now();
    beginPoll(poll);
    const lines = poll.lines;
    let i = 0;
    let bytes = 0;
    while (i < lines.length) {
      const t0 = performance.now();
      let elapsed = 0;
      do {
        countLines(fx, lines, i, i + 1, ctx);
        bytes += (lines[i] as TailLine).text.length;
        i++;
        elapsed = performance.now() - t0;
      } while (i < lines.length && elapsed < COUNT_SLICE_MS);
      fxWorkMs += elapsed;
      if (i < lines.length) await yieldToLoop();
    }
    if (keepPolls) fxPolls.push(poll);
    fxBytes += bytes;
    return bytes;
  }

  async function run(): Promise<void> {
    const pollBytes = Math.min(POLL_BYTES, options.batchBytes);
    // Polls shrink when their lines add many rows (every call its own rollup row): a batch then
    // overshoots `batchRows` by at most about a quarter of it, which bounds the commit's duration.
    let pollBudget = pollBytes;
    let next: Promise<TailBatch> | undefined;
    try {
      while (!stopping) {
        const poll = await (next ?? tailer.poll(pollBudget));
        next = undefined;
        // Read ahead: the next poll's reads run on the I/O threads while this one is counted. Its steps
        // (stat, then read) continue only when this thread is free, so give it a few event-loop turns
        // first: enough for its read to be in flight during the count.
        if (!poll.caughtUp) {
          let settled = false;
          const markSettled = () => {
            settled = true;
          };
          next = tailer.poll(pollBudget);
          next.then(markSettled, markSettled);
          for (let turn = 0; turn < READ_AHEAD_TURNS && !settled; turn++) await yieldToLoop();
        }
        if (!fxDirty) fxOpenedAt = performance.now();
        const rowsBefore = fx.pendingRows;
        const bytes = await countPoll(poll);
        const rowsAdded = fx.pendingRows - rowsBefore;
        if (bytes > 0) {
          const pollRows = Math.max(250, batchRows / 4);
          const target = rowsAdded > 0 ? Math.floor((pollRows * bytes) / rowsAdded) : pollBytes;
          pollBudget = Math.min(pollBytes, Math.max(MIN_POLL_BYTES, target));
        }
        fxCheckpoints = poll.checkpoints;
        if (
          poll.lines.length > 0 ||
          poll.oversized.length > 0 ||
          checkpointsSignature(poll.checkpoints) !== committedSignature
        )
          fxDirty = true;
        const full =
          fxBytes >= options.batchBytes ||
          fx.pendingRows >= batchRows ||
          performance.now() - fxOpenedAt >= batchMs;
        if (fxDirty && (poll.caughtUp || full)) await commitOpenBatch(!poll.caughtUp);
        metrics.gauges.unreadBytes.reset();
        for (const [file, bytes] of Object.entries(poll.unreadBytes))
          metrics.gauges.unreadBytes.set({ file }, bytes);
        if (poll.caughtUp) {
          metrics.gauges.ready.set(1);
          markReady();
          if (stopping) break;
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, options.pollIntervalMs);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          wake = undefined;
        } else if (next === undefined) {
          await yieldToLoop();
        }
      }
      // Stopping (SIGTERM): what was counted is committed before the loop ends; a read-ahead poll's
      // lines were not counted, so they are read again after a restart.
      if (next !== undefined) await next.catch(() => undefined);
      if (fxDirty) await commitOpenBatch(false);
    } finally {
      if (next !== undefined) await next.catch(() => undefined);
      await tailer.close();
    }
  }

  const done = run();
  done.catch(() => undefined);
  return {
    ready,
    done,
    async stop(): Promise<void> {
      stopping = true;
      wake?.();
      await done.catch(() => undefined);
    },
    ledgerUp: () => ledgerUp,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
