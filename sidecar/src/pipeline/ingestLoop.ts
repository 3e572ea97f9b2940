import { performance } from 'node:perf_hooks';
import type { Pricer } from '@spendline/sdk/core';
import { yieldToLoop } from '../eventLoop.js';
import { type CommitOutcome, createPipelineStore, type PipelineState } from '../ledger/pipelineStore.js';
import { isTransientLedgerError, type LedgerStore } from '../ledger/store.js';
import type { UsageDelta } from '../ledger/usageTotals.js';
import type { SidecarMetrics } from '../metrics.js';
import { createTailer } from '../tail/index.js';
import type { FileCheckpoint, TailBatch, TailLine, UnreadableReason } from '../tail/types.js';
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
  /** Writes one line to the sidecar's log (default: stderr, prefixed `spendline sidecar: `). */
  log?(line: string): void;
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
 * A backlog batch's commit should take about this long (see adaptBatchRows): large batches mean fewer
 * upserts of the same rows (an hour's rollups, a service's running total). On SQLite the commit is
 * written in slices (the event loop runs between them); on PostgreSQL the next batch is counted while
 * it runs (see inFlight). (Before that overlap, PostgreSQL commits were kept at ~50 ms so that three
 * sidecars' transactions interleaved; with it, 50 / 200 / 400 ms gave one sidecar 10.2 / 12.7 / 15.2 k
 * records/s and three together 16.6 / 14.7 / 17.5 k: docs/performance.md.)
 */
const COMMIT_TARGET_MS = 200;
const MIN_BATCH_ROWS = 2000;
/**
 * Rows held by a batch are memory: where nearly every call is a row of its own (the bench's worst
 * case, independent dimensions), batches that grew to ~18 k rows (100 k records in 13 batches) peaked
 * at 224–235 MB RSS, at most 12 k rows (21 batches) at 186–195 MB, at the same speed. Fleet-shaped
 * batches end at --batch-bytes well below this bound.
 */
const MAX_BATCH_ROWS = 12000;
/** A poll's lines are counted in synchronous slices of about this long (see countPoll). */
const COUNT_SLICE_MS = 20;
/**
 * ... and of about this long while a commit is in flight (see inFlight): each of its statements'
 * replies waits for the slice being counted to end, and the shared ledger holds its locks meanwhile.
 */
const COUNT_SLICE_IN_FLIGHT_MS = 3;
/** Usage groups settled per synchronous step of a batch's settle. */
const SETTLE_GROUPS = 500;
/** Smallest poll budget (see pollRows in run). */
const MIN_POLL_BYTES = 64 * 1024;
/** While reading a backlog, new files are looked for this often (listing is a poll's fixed cost). */
const REDISCOVER_MS = 250;

/** What to do about an unreadable file, after the log line that names it. */
const UNREADABLE_HINT: Record<UnreadableReason, string> = {
  proto: '; set the file exporter to format: json without compression (docs/deploy.md)',
  zstd: '; set the file exporter to format: json without compression (docs/deploy.md)',
  gzip: '; point the sidecar at the uncompressed export',
  utf16: '; write the file as UTF-8',
  permission_denied: '; give the sidecar read access',
  too_many_open_files: '; raise the open-file limit or match fewer files',
  io_error: '',
};

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
  const log = options.log ?? ((line: string) => process.stderr.write(`spendline sidecar: ${line}\n`));
  /** Unreadable files already logged (path + reason): each is said once while it stays so. */
  let loggedUnreadable = new Set<string>();

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

  /** One commit attempt's result; never a rejection (a background attempt is looked at later). */
  type Attempt =
    | { outcome: CommitOutcome; endedAt: number }
    | { error: unknown; committed: boolean; endedAt: number };

  /**
   * Commits `batch` (its `onCommit` included) once, in the commit section. Its claims are taken at
   * once, before the section (which may start later) runs: the next batch's are its own.
   */
  async function attempt(batch: BatchEffects, checkpoints: FileCheckpoint[]): Promise<Attempt> {
    let committed = false;
    try {
      const write = store.prepareCommit(batch, checkpoints, options.now(), options.dedupWindowMs);
      const outcome = await section(async () => {
        const o = await write();
        committed = o.ok;
        if (o.ok && batch.deltaCount > 0) await options.onCommit?.(batch.deltas, batch.droppedDeltas);
        return o;
      });
      return { outcome, endedAt: performance.now() };
    } catch (error) {
      return { error, committed, endedAt: performance.now() };
    }
  }

  /** The open batch's state, set aside (see `inFlight`), and an empty open batch in its place. */
  function takeOpenBatch() {
    const taken = {
      fx,
      polls: fxPolls,
      checkpoints: fxCheckpoints,
      bytes: fxBytes,
      workMs: fxWorkMs,
      dirty: fxDirty,
      openedAt: fxOpenedAt,
    };
    fx = new BatchEffects(metrics);
    fxPolls = [];
    fxBytes = 0;
    fxWorkMs = 0;
    fxDirty = false;
    return taken;
  }

  function restoreOpenBatch(b: ReturnType<typeof takeOpenBatch>): void {
    fx = b.fx;
    fxPolls = b.polls;
    fxCheckpoints = b.checkpoints;
    fxBytes = b.bytes;
    fxWorkMs = b.workMs;
    fxDirty = b.dirty;
    fxOpenedAt = b.openedAt;
  }

  /**
   * On a shared ledger, a backlog batch's first commit attempt runs while the next batch is counted
   * (PostgreSQL applies one batch while this thread counts the next, instead of one waiting for the
   * other). The next batch's dedup decisions then rest on the in-flight batch's claims (held pending
   * until its outcome): if it does not commit at the first attempt, the next batch's claims are
   * released, the in-flight batch is settled as a sequential commit would be (recounted, retried, an
   * in-doubt outcome resolved), and the next batch is counted again from its kept lines. Commits stay
   * one after another: a batch's totals build on the committed ones.
   */
  let inFlight:
    | {
        batch: ReturnType<typeof takeOpenBatch>;
        first: Promise<Attempt>;
        rows: number;
        settleMs: number;
        t1: number;
      }
    | undefined;

  /** Waits for the in-flight commit and completes it (see `inFlight`). */
  async function finishInFlight(): Promise<void> {
    const f = inFlight;
    if (f === undefined) return;
    inFlight = undefined;
    const first = await f.first;
    if ('outcome' in first && first.outcome.ok) {
      afterCommit(
        f.batch.fx,
        f.batch.checkpoints,
        f.batch.workMs + f.settleMs,
        f.rows,
        first.endedAt - f.t1,
        true,
      );
      return;
    }
    store.releaseClaims();
    const next = takeOpenBatch();
    restoreOpenBatch(f.batch);
    await commitWithRetries(first, f.rows, f.settleMs, f.t1, true);
    restoreOpenBatch(next);
    if (fxPolls.length > 0) recount();
  }

  /**
   * Settles the open batch and commits it in one transaction; the registry shows it only after.
   * `yieldFirst`: the event loop runs before the settle, between its steps and before the commit, so
   * the poll's count, the settle and the commit are separate synchronous slices rather than one.
   */
  async function commitOpenBatch(yieldFirst: boolean): Promise<void> {
    await finishInFlight();
    const rows = fx.pendingRows;
    const settleMs = await settle(yieldFirst);
    const t1 = performance.now();
    fx.lastRecordMs = Math.max(lastRecordMs, fx.lastRecordMs);
    if (keepPolls && yieldFirst) {
      const batch = takeOpenBatch();
      inFlight = { batch, first: attempt(batch.fx, batch.checkpoints), rows, settleMs, t1 };
      return;
    }
    await commitWithRetries(await attempt(fx, fxCheckpoints), rows, settleMs, t1, yieldFirst);
  }

  /**
   * Completes the open batch's commit from its first attempt: counts it again and retries while
   * another sidecar committed some of its records first, and waits out an unreachable shared ledger.
   */
  async function commitWithRetries(
    first: Attempt,
    rows: number,
    settleMs0: number,
    t1: number,
    adapt: boolean,
  ): Promise<void> {
    let settleMs = settleMs0;
    let failures = 0;
    let result = first;
    for (;;) {
      let outcome: CommitOutcome;
      if ('error' in result) {
        const err = result.error;
        // A failure after the commit (while publishing it) is not a reason to count the batch again.
        if (result.committed || !keepPolls || !isTransientLedgerError(err)) throw err;
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
      } else outcome = result.outcome;
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
      result = await attempt(fx, fxCheckpoints);
    }
    afterCommit(fx, fxCheckpoints, fxWorkMs + settleMs, rows, performance.now() - t1, adapt);
    takeOpenBatch();
  }

  /** After `batch` committed: the gauges, the row bound, what the next batch starts from. */
  function afterCommit(
    batch: BatchEffects,
    checkpoints: FileCheckpoint[],
    workMs: number,
    rows: number,
    commitMs: number,
    adapt: boolean,
  ): void {
    metrics.gauges.ledgerUp.set(1);
    ledgerUp = true;
    if (options.batchRows === undefined && adapt) adaptBatchRows(rows, commitMs);
    lastRecordMs = batch.lastRecordMs;
    metrics.gauges.lastCommitSeconds.set((workMs + commitMs) / 1000);
    metrics.gauges.batches.set(++batches);
    if (lastRecordMs > 0) metrics.gauges.lastRecordTimestamp.set(lastRecordMs / 1000);
    committedSignature = checkpointsSignature(checkpoints);
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
    for (const [reason, bytes] of Object.entries(poll.lost))
      if (bytes > 0) fx.add('lostBytes', [reason], bytes);
  }

  /** Shows the files that cannot be read (gauge) and logs each once, when it first becomes so. */
  function reportUnreadable(poll: TailBatch): void {
    metrics.gauges.unreadableFiles.reset();
    const now = new Set<string>();
    for (const u of poll.unreadable) {
      metrics.gauges.unreadableFiles.set({ file: u.path, reason: u.reason }, u.bytes);
      const key = `${u.reason}\u0000${u.path}`;
      now.add(key);
      if (!loggedUnreadable.has(key))
        log(
          `cannot read ${JSON.stringify(u.path)} (${u.reason}: ${u.detail}): its ${u.bytes} bytes are not counted${UNREADABLE_HINT[u.reason]}`,
        );
    }
    loggedUnreadable = now;
  }

  /**
   * Moves the row bound towards what commits in COMMIT_TARGET_MS at the speed just measured (a
   * backlog batch's commit; small batches say little about the per-row cost): fewer, larger batches
   * where the ledger is fast, while a commit stays a short synchronous slice.
   */
  function adaptBatchRows(rows: number, commitMs: number): void {
    if (rows < MIN_BATCH_ROWS / 2 || commitMs <= 0) return;
    const fit = (COMMIT_TARGET_MS * rows) / commitMs;
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
      } while (
        i < lines.length &&
        elapsed < (inFlight === undefined ? COUNT_SLICE_MS : COUNT_SLICE_IN_FLIGHT_MS)
      );
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
        // Caught up: the in-flight commit completes first (ready means read and committed), and
        // before the checkpoints are compared with the committed ones.
        if (poll.caughtUp) await finishInFlight();
        fxCheckpoints = poll.checkpoints;
        if (
          poll.lines.length > 0 ||
          poll.oversized.length > 0 ||
          poll.lost.deleted + poll.lost.truncated > 0 ||
          checkpointsSignature(poll.checkpoints) !== committedSignature
        )
          fxDirty = true;
        const full =
          fxBytes >= options.batchBytes ||
          fx.pendingRows >= batchRows ||
          performance.now() - fxOpenedAt >= batchMs;
        if (fxDirty && (poll.caughtUp || full)) await commitOpenBatch(!poll.caughtUp);
        reportUnreadable(poll);
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
      await finishInFlight();
      if (fxDirty) await commitOpenBatch(false);
    } finally {
      if (next !== undefined) await next.catch(() => undefined);
      // A loop that failed with a commit in flight lets it end (its outcome no longer matters here).
      if (inFlight !== undefined) await inFlight.first;
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
