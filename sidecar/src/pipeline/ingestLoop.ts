import { performance } from 'node:perf_hooks';
import type { Pricer } from '@spendline/sdk';
import type { LedgerDb } from '../ledger/openLedger.js';
import { createPipelineStore } from '../ledger/pipelineStore.js';
import type { SidecarMetrics } from '../metrics.js';
import { createTailer } from '../tail/index.js';
import type { FileCheckpoint } from '../tail/types.js';
import { countBatch } from './countBatch.js';
import { type CappedLabel, LabelCaps } from './labelCaps.js';

export interface IngestOptions {
  otlpGlobs: string[];
  jsonlGlobs: string[];
  maxLineBytes: number;
  /** Line bytes read per batch (one ledger transaction each). */
  batchBytes: number;
  /** Wait between polls once caught up. */
  pollIntervalMs: number;
  dedupWindowMs: number;
  labelCaps: Record<CappedLabel, number>;
  now(): number;
}

export interface IngestLoop {
  /** Resolves once every file present at start has been read and committed. */
  ready: Promise<void>;
  /** Rejects if the loop fails (e.g. the ledger cannot be written): the caller should exit non-zero. */
  done: Promise<void>;
  /** Finishes and commits the current batch, then stops. */
  stop(): Promise<void>;
}

function checkpointsSignature(cps: FileCheckpoint[]): string {
  return cps
    .map((c) => `${c.dev}:${c.ino}:${c.fingerprint}:${c.offset}:${c.path}`)
    .sort()
    .join('|');
}

/** tail -> decode -> dedup -> price -> ledger commit -> registry, one batch at a time. */
export function startIngestLoop(
  db: LedgerDb,
  metrics: SidecarMetrics,
  pricer: Pricer,
  options: IngestOptions,
): IngestLoop {
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
  const store = createPipelineStore(db, metrics);
  const state = store.load();
  const caps = new LabelCaps(options.labelCaps);
  for (const [label, value] of state.labelValues) caps.restore(label, value);
  let lastRecordMs = state.lastRecordMs;
  if (lastRecordMs > 0) metrics.gauges.lastRecordTimestamp.set(lastRecordMs / 1000);
  metrics.gauges.ready.set(0);
  const tailer = createTailer({
    otlpGlobs: options.otlpGlobs,
    jsonlGlobs: options.jsonlGlobs,
    maxLineBytes: options.maxLineBytes,
    checkpoints: state.checkpoints,
  });
  let committedSignature = checkpointsSignature(state.checkpoints);
  let stopping = false;
  let wake: (() => void) | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  let batches = 0;

  async function run(): Promise<void> {
    while (!stopping) {
      const batch = await tailer.poll(options.batchBytes);
      const signature = checkpointsSignature(batch.checkpoints);
      if (batch.lines.length > 0 || batch.oversized.length > 0 || signature !== committedSignature) {
        const t0 = performance.now();
        const previousLast = lastRecordMs;
        const fx = store.commitBatch(
          (claimKey) => {
            const effects = countBatch(batch, { metrics, pricer, caps, claimKey });
            effects.lastRecordMs = Math.max(previousLast, effects.lastRecordMs);
            return effects;
          },
          batch.checkpoints,
          options.now(),
          options.dedupWindowMs,
        );
        lastRecordMs = fx.lastRecordMs;
        metrics.gauges.lastCommitSeconds.set((performance.now() - t0) / 1000);
        metrics.gauges.batches.set(++batches);
        if (lastRecordMs > 0) metrics.gauges.lastRecordTimestamp.set(lastRecordMs / 1000);
        committedSignature = signature;
      }
      metrics.gauges.unreadBytes.reset();
      for (const [file, bytes] of Object.entries(batch.unreadBytes))
        metrics.gauges.unreadBytes.set({ file }, bytes);
      if (batch.caughtUp) {
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
      } else {
        // Let HTTP requests (scrapes) run between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    await tailer.close();
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
  };
}
