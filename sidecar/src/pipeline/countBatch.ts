import type { TokenCounts } from '@spendline/sdk/contract';
import type { ModelRef, Pricer, UsageToPrice } from '@spendline/sdk/core';
import { decodeOtlpJsonLine, decodeUsageJsonlLine, sourceNameOfPath } from '../decode/index.js';
import type { UsageRecord } from '../decode/usageRecord.js';
import { addCost, emptyMeasures, costNano as exactCost, type Measures } from '../ledger/rollups.js';
import type { SidecarMetrics } from '../metrics.js';
import type { OversizedLine, TailLine } from '../tail/types.js';
import type { BatchEffects, UsageGroup } from './batchEffects.js';
import type { LabelCaps } from './labelCaps.js';
import { capRecordValues } from './valueLength.js';

const HOUR_SECONDS = 3600;
const HOUR_MS = HOUR_SECONDS * 1000;
const SEP = '\u0001';

export interface CountContext {
  metrics: SidecarMetrics;
  pricer: Pricer;
  caps: LabelCaps;
  /** Records the key; true when it is new (not seen within the dedup window, nor earlier in this batch). */
  claimKey(dedupKey: string): boolean;
  /**
   * True when a record's own time is plausible (within --max-record-age before now and
   * --max-future-skew after it); others are rejected as timestamp_out_of_range, in metrics and ledger alike.
   */
  plausibleTime(timestampMs: number): boolean;
}

const sourceNames = new Map<string, string>();
/** A JSONL file's source name, computed once per path. */
function fileSourceName(path: string): string {
  let name = sourceNames.get(path);
  if (name === undefined) {
    if (sourceNames.size > 10_000) sourceNames.clear();
    name = sourceNameOfPath(path);
    sourceNames.set(path, name);
  }
  return name;
}

/**
 * Counts lines the tailer skipped for being over the maximum length as rejected: every record they
 * held (the tailer counts them while skipping), so the size of the loss shows, not one per line.
 */
export function countOversized(fx: BatchEffects, oversized: readonly OversizedLine[]): void {
  for (const o of oversized) {
    const records = o.records ?? 1;
    const source = o.signal === 'logs' ? 'log' : o.signal === 'spans' ? 'span' : o.kind;
    fx.add('records', [source, 'rejected'], records);
    fx.add('rejected', ['line_too_long'], records);
    fx.records += records;
  }
}

/**
 * Decodes, dedups and prices `lines[from..to)` into `fx` (a batch may gather many polls, each counted
 * in slices). Usage is summed into groups; `settleGroups` turns them into series and rows before the
 * commit.
 */
export function countLines(
  fx: BatchEffects,
  lines: readonly TailLine[],
  from: number,
  to: number,
  ctx: CountContext,
): void {
  for (let i = from; i < to; i++) {
    const line = lines[i] as TailLine;
    const outcome =
      line.kind === 'otlp'
        ? decodeOtlpJsonLine(line.text)
        : decodeUsageJsonlLine(line.text, fileSourceName(line.path));
    if (outcome.rejected.length > 0) {
      fx.add('records', [line.kind, 'rejected'], outcome.rejected.length);
      for (const r of outcome.rejected) fx.add('rejected', [r.reason], 1);
    }
    if (outcome.ignored > 0) fx.add('records', [line.kind, 'ignored'], outcome.ignored);
    fx.records += outcome.rejected.length + outcome.ignored + outcome.records.length;
    let counted = 0;
    let duplicates = 0;
    let source: UsageRecord['source'] | undefined;
    for (const record of outcome.records) {
      if (record.source !== source) {
        flushOutcomes(fx, source, counted, duplicates);
        source = record.source;
        counted = 0;
        duplicates = 0;
      }
      // Checked before the dedup claim: a rejected record keeps no key.
      if (!ctx.plausibleTime(record.timestampMs)) {
        fx.add('records', [record.source, 'rejected'], 1);
        fx.add('rejected', ['timestamp_out_of_range'], 1);
        continue;
      }
      if (!ctx.claimKey(record.dedupKey)) {
        duplicates++;
        continue;
      }
      counted++;
      capRecordValues(record, (label) => fx.add('labelTruncated', [label], 1));
      countRecord(record, fx, ctx);
    }
    flushOutcomes(fx, source, counted, duplicates);
  }
}

function flushOutcomes(
  fx: BatchEffects,
  source: string | undefined,
  counted: number,
  duplicates: number,
): void {
  if (source === undefined) return;
  if (counted > 0) fx.add('records', [source, 'counted'], counted);
  if (duplicates > 0) fx.add('records', [source, 'duplicate'], duplicates);
}

/** The pricer's arguments, refilled for each record (the pricer keeps none of them). */
const priceArgs = (() => {
  const at = new Date(0);
  const usage: Required<Omit<UsageToPrice, 'requests'>> = {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: 0,
    ocrPages: 0,
    embeddingInputs: 0,
  };
  const ref: ModelRef = { provider: '', model: '', at };
  return { at, usage, ref };
})();

function countRecord(r: UsageRecord, fx: BatchEffects, ctx: CountContext): void {
  const model = r.requestModel !== '' ? r.requestModel : r.responseModel;
  // The catalog (with --prices overrides) is authoritative; the emitter's own price only fills a gap.
  const t = r.tokens;
  priceArgs.usage.inputTokens = t.inputTokens;
  priceArgs.usage.outputTokens = t.outputTokens;
  priceArgs.usage.cacheReadInputTokens = t.cacheReadInputTokens;
  priceArgs.usage.cacheCreationInputTokens = t.cacheCreationInputTokens;
  priceArgs.usage.reasoningOutputTokens = t.reasoningOutputTokens;
  priceArgs.usage.ocrPages = r.ocrPages;
  priceArgs.usage.embeddingInputs = r.embeddingInputs;
  priceArgs.ref.provider = r.provider;
  priceArgs.ref.model = r.responseModel !== '' ? r.responseModel : r.requestModel;
  priceArgs.at.setTime(r.timestampMs);
  // Unknown usage has no cost to compute (never $0): it is neither priced nor counted as unpriced.
  const costNano =
    r.usageType === 'unknown'
      ? r.emitterCostNanoUsd
      : (ctx.pricer.costNanoUsd(priceArgs.usage, priceArgs.ref) ?? r.emitterCostNanoUsd);

  const bucketStart = Math.floor(r.timestampMs / HOUR_MS) * HOUR_SECONDS;
  const key =
    bucketStart +
    SEP +
    r.provider +
    SEP +
    model +
    SEP +
    r.service +
    SEP +
    r.operation +
    SEP +
    r.feature +
    SEP +
    r.tenantId +
    SEP +
    r.usageType +
    SEP +
    r.status +
    SEP +
    r.agentName +
    SEP +
    r.executionPath +
    SEP +
    r.sourceName;
  let g = fx.groups.get(key);
  if (g === undefined) {
    g = {
      bucketStart,
      provider: r.provider,
      model,
      service: r.service,
      operation: r.operation,
      feature: r.feature,
      tenantId: r.tenantId,
      usageType: r.usageType,
      agent: r.agentName,
      executionPath: r.executionPath,
      source: r.sourceName,
      status: r.status,
      measures: emptyMeasures(),
      principals: fx.principalSlot({
        bucketStart,
        provider: r.provider,
        model,
        service: r.service,
        feature: r.feature,
        usageType: r.usageType,
      }),
      duration: null,
      ttft: null,
    };
    fx.groups.set(key, g);
  }
  addRecord(g.measures, r, t, costNano);
  if (r.durationMs !== null) {
    const h = ctx.metrics.histograms.duration;
    if (g.duration === null) g.duration = h.emptyState();
    h.observeInto(g.duration, r.durationMs / 1000);
  }
  if (r.ttftMs !== null) {
    const h = ctx.metrics.histograms.ttft;
    if (g.ttft === null) g.ttft = h.emptyState();
    h.observeInto(g.ttft, r.ttftMs / 1000);
  }
  if (r.timestampMs > fx.lastRecordMs) fx.lastRecordMs = r.timestampMs;
  if (r.status === 'error') fx.addError(bucketStart, r.provider, model, r.service, r.errorType);
  fx.addUsageDelta({
    id: 0,
    atMs: r.timestampMs,
    session: r.sessionId,
    user: r.userId,
    tenant: r.tenantId,
    feature: r.feature,
    service: r.service,
    provider: r.provider,
    model,
    usageType: r.usageType,
    status: r.status,
    errorType: r.errorType,
    input: Math.max(0, t.inputTokens - t.cacheReadInputTokens - t.cacheCreationInputTokens),
    cacheRead: t.cacheReadInputTokens,
    cacheWrite: t.cacheCreationInputTokens,
    output: Math.max(0, t.outputTokens - t.reasoningOutputTokens),
    reasoning: t.reasoningOutputTokens,
    costNano,
  });
  // Rollups keep the raw values (caps are for Prometheus only).
  if (r.userId !== '') addRecord(fx.principal(g.principals.users, r.userId), r, t, costNano);
  if (r.taskId !== '') addRecord(fx.principal(g.principals.tasks, r.taskId), r, t, costNano);
}

function addRecord(m: Measures, r: UsageRecord, t: TokenCounts, costNano: number | null): void {
  m.requests += 1;
  if (r.status === 'error') m.errors += 1;
  // The disjoint token types (see partitionTokens in the contract): they sum to input + output.
  m.input_tokens += Math.max(0, t.inputTokens - t.cacheReadInputTokens - t.cacheCreationInputTokens);
  m.cache_read_tokens += t.cacheReadInputTokens;
  m.cache_write_tokens += t.cacheCreationInputTokens;
  m.output_tokens += Math.max(0, t.outputTokens - t.reasoningOutputTokens);
  m.reasoning_tokens += t.reasoningOutputTokens;
  if (costNano !== null) addCost(m, costNano);
  else if (r.usageType !== 'unknown') {
    m.unpriced_requests += 1;
    m.unpriced_tokens += t.inputTokens + t.outputTokens;
  }
  if (r.durationMs !== null) {
    m.duration_ms_sum += Math.round(r.durationMs);
    m.duration_count += 1;
  }
  m.ocr_pages += r.ocrPages;
  m.embedding_inputs += r.embeddingInputs;
}

/**
 * Expands the batch's usage groups into counter series (labels folded under the caps, in the order
 * the values were first counted), histogram series and hourly rollup rows: `groups[from..to)` of the
 * batch's groups, in order, in as many steps as the caller likes (nothing may count into the batch in
 * between); `finishSettle` then ends the batch's settle, just before the commit.
 */
export function settleGroups(
  fx: BatchEffects,
  groups: readonly UsageGroup[],
  from: number,
  to: number,
  caps: LabelCaps,
): void {
  for (let i = from; i < to; i++) settleGroup(fx, groups[i] as UsageGroup, caps);
}

/** Clears the settled groups and takes the label values the caps admitted. */
export function finishSettle(fx: BatchEffects, caps: LabelCaps): void {
  fx.groups.clear();
  fx.admittedLabels = caps.takeAdmitted();
}

function settleGroup(fx: BatchEffects, g: UsageGroup, caps: LabelCaps): void {
  const m = g.measures;
  const overflow = (label: string) => fx.add('labelOverflow', [label], m.requests);
  const [provider, model, service, operation, feature] = caps.foldSeries(
    [
      caps.fold('provider', g.provider, overflow),
      caps.fold('model', g.model, overflow),
      caps.fold('service', g.service, overflow),
      caps.fold('operation', g.operation, overflow),
      caps.fold('feature', g.feature, overflow),
    ],
    overflow,
  ) as [string, string, string, string, string];
  fx.add('requests', [provider, model, service, operation, g.status], m.requests);
  const tokens: [string, number][] = [
    ['input', m.input_tokens],
    ['cache_read', m.cache_read_tokens],
    ['cache_write', m.cache_write_tokens],
    ['output', m.output_tokens],
    ['reasoning', m.reasoning_tokens],
  ];
  for (const [type, n] of tokens)
    if (n > 0) fx.add('tokens', [provider, model, service, type, g.usageType], n);
  if (g.usageType === 'unknown') fx.add('unknownUsage', [provider, model, service, g.status], m.requests);
  // Unknown usage adds a cost series only when the emitter reported its own cost.
  const cost = exactCost(m);
  if (m.requests > m.unpriced_requests && (g.usageType !== 'unknown' || cost > 0))
    fx.add('cost', [provider, model, service, feature, g.usageType], cost);
  if (m.unpriced_requests > 0) fx.add('unpriced', [provider, model, service], m.unpriced_requests);
  if (m.ocr_pages > 0) fx.add('ocrPages', [provider, model, service], m.ocr_pages);
  if (m.embedding_inputs > 0) fx.add('embeddingInputs', [provider, model, service], m.embedding_inputs);
  if (g.duration !== null) fx.mergeHistogram('duration', [provider, model, service, operation], g.duration);
  if (g.ttft !== null) fx.mergeHistogram('ttft', [provider, model, service], g.ttft);
  // The ledger keeps raw values (caps are for Prometheus only).
  if (g.duration !== null) fx.addLatency(g.bucketStart, g.provider, g.model, 'duration', g.duration.counts);
  if (g.ttft !== null) fx.addLatency(g.bucketStart, g.provider, g.model, 'ttft', g.ttft.counts);
  fx.rollup(
    {
      bucketStart: g.bucketStart,
      bucketSeconds: HOUR_SECONDS,
      provider: g.provider,
      model: g.model,
      service: g.service,
      operation: g.operation,
      feature: g.feature,
      tenantId: g.tenantId,
      usageType: g.usageType,
      agent: g.agent,
      executionPath: g.executionPath,
      source: g.source,
    },
    m,
  );
}
