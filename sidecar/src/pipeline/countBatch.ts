import type { Pricer } from '@spendline/sdk';
import { partitionTokens, TOKEN_TYPES } from '@spendline/sdk/contract';
import { decodeOtlpJsonLine, decodeUsageJsonlLine } from '../decode/index.js';
import type { UsageRecord } from '../decode/usageRecord.js';
import type { Measures } from '../ledger/rollups.js';
import type { SidecarMetrics } from '../metrics.js';
import type { TailBatch } from '../tail/types.js';
import { BatchEffects } from './batchEffects.js';
import type { LabelCaps } from './labelCaps.js';

const HOUR_SECONDS = 3600;

export interface CountContext {
  metrics: SidecarMetrics;
  pricer: Pricer;
  caps: LabelCaps;
  /** Records the key; true when it is new (not seen within the dedup window, nor earlier in this batch). */
  claimKey(dedupKey: string): boolean;
}

/** Decodes, dedups and prices a tail batch into its effects (nothing is written or shown yet). */
export function countBatch(batch: TailBatch, ctx: CountContext): BatchEffects {
  const fx = new BatchEffects(ctx.metrics);
  for (const o of batch.oversized) {
    fx.add('records', [o.kind, 'rejected'], 1);
    fx.add('rejected', ['line_too_long'], 1);
  }
  for (const line of batch.lines) {
    const outcome = line.kind === 'otlp' ? decodeOtlpJsonLine(line.text) : decodeUsageJsonlLine(line.text);
    if (outcome.rejected.length > 0) {
      fx.add('records', [line.kind, 'rejected'], outcome.rejected.length);
      for (const r of outcome.rejected) fx.add('rejected', [r.reason], 1);
    }
    if (outcome.ignored > 0) fx.add('records', [line.kind, 'ignored'], outcome.ignored);
    for (const record of outcome.records) {
      if (!ctx.claimKey(record.dedupKey)) {
        fx.add('records', [record.source, 'duplicate'], 1);
        continue;
      }
      fx.add('records', [record.source, 'counted'], 1);
      countRecord(record, fx, ctx);
    }
  }
  fx.admittedLabels = ctx.caps.takeAdmitted();
  return fx;
}

function countRecord(r: UsageRecord, fx: BatchEffects, ctx: CountContext): void {
  const overflow = (label: string) => fx.add('labelOverflow', [label], 1);
  const labelModel = r.requestModel !== '' ? r.requestModel : r.responseModel;
  const provider = ctx.caps.fold('provider', r.provider, overflow);
  const model = ctx.caps.fold('model', labelModel, overflow);
  const service = ctx.caps.fold('service', r.service, overflow);
  const operation = ctx.caps.fold('operation', r.operation, overflow);
  const feature = ctx.caps.fold('feature', r.feature, overflow);

  // The catalog (with --prices overrides) is authoritative; the emitter's own price only fills a gap.
  const price = ctx.pricer.priceUsage(
    { ...r.tokens, ocrPages: r.ocrPages, embeddingInputs: r.embeddingInputs },
    {
      provider: r.provider,
      model: r.responseModel !== '' ? r.responseModel : r.requestModel,
      at: new Date(r.timestampMs),
    },
  );
  const costNano = price.status === 'priced' ? price.costNanoUsd : r.emitterCostNanoUsd;

  fx.add('requests', [provider, model, service, operation, r.status], 1);
  const parts = partitionTokens(r.tokens);
  for (const t of TOKEN_TYPES)
    if (parts[t] > 0) fx.add('tokens', [provider, model, service, t, r.usageType], parts[t]);
  if (costNano !== null) fx.add('cost', [provider, model, service, feature, r.usageType], costNano);
  else fx.add('unpriced', [provider, model, service], 1);
  if (r.ocrPages > 0) fx.add('ocrPages', [provider, model, service], r.ocrPages);
  if (r.embeddingInputs > 0) fx.add('embeddingInputs', [provider, model, service], r.embeddingInputs);
  if (r.durationMs !== null)
    fx.observe('duration', [provider, model, service, operation], r.durationMs / 1000);
  if (r.ttftMs !== null) fx.observe('ttft', [provider, model, service], r.ttftMs / 1000);
  if (r.timestampMs > fx.lastRecordMs) fx.lastRecordMs = r.timestampMs;
  fx.countedRecords++;

  // Rollups keep the raw values (caps are for Prometheus only).
  const bucketStart = Math.floor(r.timestampMs / 1000 / HOUR_SECONDS) * HOUR_SECONDS;
  const add = (m: Measures) => {
    m.requests += 1;
    if (r.status === 'error') m.errors += 1;
    m.input_tokens += parts.input;
    m.cache_read_tokens += parts.cache_read;
    m.cache_write_tokens += parts.cache_write;
    m.output_tokens += parts.output;
    m.reasoning_tokens += parts.reasoning;
    if (costNano !== null) m.cost_nano_usd += costNano;
    else {
      m.unpriced_requests += 1;
      m.unpriced_tokens += r.tokens.inputTokens + r.tokens.outputTokens;
    }
    if (r.durationMs !== null) {
      m.duration_ms_sum += Math.round(r.durationMs);
      m.duration_count += 1;
    }
    m.ocr_pages += r.ocrPages;
    m.embedding_inputs += r.embeddingInputs;
  };
  const dims = {
    bucketStart,
    bucketSeconds: HOUR_SECONDS,
    provider: r.provider,
    model: labelModel,
    service: r.service,
  };
  add(
    fx.rollup({
      ...dims,
      operation: r.operation,
      feature: r.feature,
      tenantId: r.tenantId,
      usageType: r.usageType,
    }),
  );
  if (r.userId !== '')
    add(
      fx.principal({
        ...dims,
        principalKind: 'user',
        principalId: r.userId,
        feature: r.feature,
        usageType: r.usageType,
      }),
    );
  if (r.taskId !== '')
    add(
      fx.principal({
        ...dims,
        principalKind: 'task',
        principalId: r.taskId,
        feature: r.feature,
        usageType: r.usageType,
      }),
    );
}
