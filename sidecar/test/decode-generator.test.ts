import { partitionTokens, TOKEN_TYPES, type TokenType, type UsageType } from '@spendline/sdk/contract';
import { describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine, type UsageRecord } from '../src/decode/index.js';
import { type GeneratedTruth, type GroupTruth, generateUsageLines } from './support/otlpLines.js';

/** Aggregates decoded records (deduplicated by key, first wins) into the generator's truth shape. */
function aggregate(lines: readonly string[]) {
  const seen = new Set<string>();
  const groups: Record<string, GroupTruth> = {};
  let decodedRecords = 0;
  let ignored = 0;
  let rejected = 0;
  for (const line of lines) {
    const out = decodeOtlpJsonLine(line);
    decodedRecords += out.records.length;
    ignored += out.ignored;
    rejected += out.rejected.length;
    for (const r of out.records) {
      if (seen.has(r.dedupKey)) continue;
      seen.add(r.dedupKey);
      addRecord(groups, r);
    }
  }
  return { calls: seen.size, decodedRecords, ignored, rejected, groups };
}

function emptyPartition(): Record<TokenType, number> {
  return { input: 0, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 };
}

function addRecord(groups: Record<string, GroupTruth>, r: UsageRecord): void {
  const model = r.requestModel || r.responseModel;
  const key = `${r.provider}|${model}|${r.service}`;
  const g = groups[key] ?? {
    provider: r.provider,
    model,
    service: r.service,
    requests: 0,
    errors: 0,
    tokens: {
      exact: emptyPartition(),
      estimated: emptyPartition(),
      total_only: emptyPartition(),
      unknown: emptyPartition(),
    },
    ocrPages: 0,
    embeddingInputs: 0,
    emitterCostNanoUsd: 0,
  };
  groups[key] = g;
  g.requests++;
  if (r.status === 'error') g.errors++;
  const p = partitionTokens(r.tokens);
  const byType: Record<TokenType, number> = g.tokens[r.usageType as UsageType];
  for (const t of TOKEN_TYPES) byType[t] += p[t];
  g.ocrPages += r.ocrPages;
  g.embeddingInputs += r.embeddingInputs;
  g.emitterCostNanoUsd += r.emitterCostNanoUsd ?? 0;
}

function expectDecodedEqualsTruth(lines: readonly string[], truth: GeneratedTruth): void {
  const got = aggregate(lines);
  expect(got.rejected).toBe(0);
  expect(got.calls).toBe(truth.calls);
  expect(got.decodedRecords).toBe(truth.decodedRecords);
  expect(got.ignored).toBe(truth.ignored);
  expect(got.groups).toEqual(truth.groups);
}

describe('generateUsageLines', () => {
  it('is deterministic by seed and differs across seeds', () => {
    const a = generateUsageLines({ records: 50, perLine: 7, seed: 1 });
    const b = generateUsageLines({ records: 50, perLine: 7, seed: 1 });
    const c = generateUsageLines({ records: 50, perLine: 7, seed: 2 });
    expect(a.lines).toEqual(b.lines);
    expect(a.lines).not.toEqual(c.lines);
    expect(a.lines).toHaveLength(8);
  });

  it('writes compact ExportLogsServiceRequest lines with int64 as strings and lowercase hex ids', () => {
    const { lines } = generateUsageLines({ records: 3, perLine: 3, seed: 5 });
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? '';
    expect(line).not.toContain('\n');
    const doc = JSON.parse(line) as {
      resourceLogs: {
        scopeLogs: { logRecords: { timeUnixNano: unknown; traceId: string; eventName: string }[] }[];
      }[];
    };
    const recs = doc.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords));
    expect(recs).toHaveLength(3);
    for (const r of recs) {
      expect(typeof r.timeUnixNano).toBe('string');
      expect(r.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(r.eventName).toBe('gen_ai.client.inference.operation.details');
    }
  });

  it('logs: decoding the lines reproduces the truth exactly', () => {
    const { lines, truth } = generateUsageLines({
      records: 2000,
      perLine: 50,
      seed: 11,
      models: 20,
      services: 5,
    });
    expect(truth.calls).toBe(2000);
    expect(truth.decodedRecords).toBe(2000);
    expectDecodedEqualsTruth(lines, truth);
  });

  it('spans with agent spans: agent spans are ignored, inference spans reproduce the truth', () => {
    const { lines, truth } = generateUsageLines({ records: 1000, perLine: 25, seed: 12, kind: 'spans' });
    expect(truth.ignored).toBeGreaterThan(0);
    expectDecodedEqualsTruth(lines, truth);
  });

  it('mixed logs and spans with noise: each call once after dedup, noise records ignored', () => {
    const { lines, truth } = generateUsageLines({
      records: 1500,
      perLine: 30,
      seed: 13,
      kind: 'mixed',
      withNoise: true,
      models: 30,
      features: 30,
      users: 100,
    });
    expect(truth.decodedRecords).toBe(3000);
    expect(truth.noiseLines).toBeGreaterThan(0);
    expectDecodedEqualsTruth(lines, truth);
  });

  it('keeps per-call truth on request, consistent with the totals', () => {
    const { truth } = generateUsageLines({ records: 300, perLine: 10, seed: 14, withCalls: true });
    const calls = truth.callList ?? [];
    expect(calls).toHaveLength(300);
    expect(new Set(calls.map((c) => c.usageId)).size).toBe(300);
    let input = 0;
    for (const c of calls) input += partitionTokens(c.tokens).input;
    expect(input).toBe(truth.totals.tokens.input);
    expect(calls.filter((c) => c.errorType !== '').length).toBe(truth.totals.errors);
  });
});
