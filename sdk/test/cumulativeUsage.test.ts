import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import { createCumulativeUsageTracker } from '../src/index.js';
import { type Harness, startHarness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
async function mark(): Promise<number> {
  return (await h.collect()).logs.length;
}
async function newTokens(before: number) {
  return (await h.collect()).logs
    .slice(before)
    .map((l) => [
      l.attributes[ATTR.requestModel],
      l.attributes[ATTR.inputTokens],
      l.attributes[ATTR.outputTokens],
    ]);
}

/** AG2's `gather_usage_summary` shape. */
function ag2(actual: Record<string, [number, number]>, total: Record<string, [number, number]>) {
  const mode = (m: Record<string, [number, number]>) => ({
    total_cost: 0.123,
    ...Object.fromEntries(
      Object.entries(m).map(([k, [p, c]]) => [
        k,
        { cost: 0.01, prompt_tokens: p, completion_tokens: c, total_tokens: p + c },
      ]),
    ),
  });
  return { usage_including_cached_inference: mode(total), usage_excluding_cached_inference: mode(actual) };
}

describe('cumulative usage tracker', () => {
  it('emits only deltas, and nothing for a final total equal to the incremental reports', async () => {
    const before = await mark();
    const t = createCumulativeUsageTracker({ provider: 'openai' });
    const r1 = t.observeAG2Summary(ag2({ 'gpt-4o': [100, 20] }, { 'gpt-4o': [150, 30] }), 'actual');
    const r2 = t.observeAG2Summary(ag2({ 'gpt-4o': [250, 50], 'gpt-4o-mini': [10, 5] }, {}), 'actual');
    const final = t.observeAG2Summary(ag2({ 'gpt-4o': [250, 50], 'gpt-4o-mini': [10, 5] }, {}), 'actual');
    expect(r1.emitted).toHaveLength(1);
    expect(r2.emitted).toHaveLength(2);
    expect(final).toEqual({ emitted: [], regressions: [], invalid: [] });
    expect(await newTokens(before)).toEqual([
      ['gpt-4o', 100, 20],
      ['gpt-4o', 150, 30],
      ['gpt-4o-mini', 10, 5],
    ]);
    expect(t.totals()['gpt-4o']).toMatchObject({ inputTokens: 250, outputTokens: 50 });
  });

  it('reads the `total` mode (cached inference included) when asked', async () => {
    const before = await mark();
    const t = createCumulativeUsageTracker({ provider: 'openai' });
    t.observeAG2Summary(ag2({ 'gpt-4o': [100, 20] }, { 'gpt-4o': [150, 30] }), 'total');
    expect(await newTokens(before)).toEqual([['gpt-4o', 150, 30]]);
  });

  it('reports a total that goes backwards and emits nothing for it, keeping the baseline', async () => {
    const before = await mark();
    const rejectedBefore = h.telemetry.stats().rejected.cumulative_total_went_backwards ?? 0;
    const t = createCumulativeUsageTracker({ provider: 'anthropic' });
    t.observe({ 'claude-haiku-4-5': { inputTokens: 500, outputTokens: 100 } });
    const back = t.observe({ 'claude-haiku-4-5': { inputTokens: 400, outputTokens: 120 } });
    expect(back.emitted).toEqual([]);
    expect(back.regressions).toEqual([
      { model: 'claude-haiku-4-5', field: 'inputTokens', previous: 500, current: 400 },
    ]);
    const after = t.observe({ 'claude-haiku-4-5': { inputTokens: 520, outputTokens: 130 } });
    expect(after.emitted).toHaveLength(1);
    expect(await newTokens(before)).toEqual([
      ['claude-haiku-4-5', 500, 100],
      ['claude-haiku-4-5', 20, 30],
    ]);
    expect(h.telemetry.stats().rejected.cumulative_total_went_backwards).toBe(rejectedBefore + 1);
  });

  it('reports invalid entries without emitting them', async () => {
    const before = await mark();
    const t = createCumulativeUsageTracker({ provider: 'openai' });
    const r = t.observe({ 'gpt-4o': { inputTokens: -5, outputTokens: 1 } });
    expect(r.invalid).toEqual([{ model: 'gpt-4o', reason: 'input_tokens_negative' }]);
    expect(await newTokens(before)).toEqual([]);
  });
});
