import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import { type Harness, startHarness } from './support/harness.js';

const MODELS = {
  'gpt-5-mini': { usage: { inputTokens: 500, outputTokens: 260, cachedTokens: 256, reasoningTokens: 200 } },
  // input_tokens 4000 = 1000 uncached + 1000 read from the cache + 2000 written to it (cache_write_tokens).
  'gpt-5.1': {
    usage: { inputTokens: 4000, outputTokens: 90, cachedTokens: 1000, cacheCreationTokens: 2000 },
  },
  'text-embedding-3-small': { usage: { inputTokens: 9, outputTokens: 0 } },
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ models: MODELS });
});
afterAll(async () => {
  await h.close();
});

/** Flushes first, so a record of an earlier test can never be taken for this test's. */
async function mark(): Promise<number> {
  return (await h.collect()).logs.length;
}

async function newLogs(before: number) {
  const { logs, spans } = await h.collect();
  return logs.slice(before).map((log) => ({ log, span: spans.find((s) => s.spanId === log.spanId) }));
}

describe('instrumentOpenAI: responses.create', () => {
  it('records a non-streaming response with cached and reasoning tokens', async () => {
    const before = await mark();
    const r = await h.openai.responses.create({ model: 'gpt-5-mini', input: 'hi' });
    expect(r.output_text).toBe('Hello from the spendline fake provider.');
    const recs = await newLogs(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.log.attributes).toMatchObject({
      [ATTR.operationName]: 'chat',
      [ATTR.providerName]: 'openai',
      [ATTR.requestModel]: 'gpt-5-mini',
      [ATTR.inputTokens]: 500,
      [ATTR.outputTokens]: 260,
      [ATTR.cacheReadInputTokens]: 256,
      [ATTR.reasoningOutputTokens]: 200,
      [ATTR.usageType]: 'exact',
    });
  });

  it('records a streaming response from response.completed, forwarding every event', async () => {
    const before = await mark();
    const stream = await h.openai.responses.create({ model: 'gpt-5-mini', input: 'hi', stream: true });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array(6).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const [rec] = await newLogs(before);
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 500,
      [ATTR.outputTokens]: 260,
      [ATTR.cacheReadInputTokens]: 256,
      [ATTR.reasoningOutputTokens]: 200,
      [ATTR.usageType]: 'exact',
    });
    expect(typeof rec?.log.attributes[ATTR.ttftMs]).toBe('number');
  });

  it('maps prompt-cache writes (input_tokens_details.cache_write_tokens), streaming or not', async () => {
    const before = await mark();
    await h.openai.responses.create({ model: 'gpt-5.1', input: 'hi' });
    const stream = await h.openai.responses.create({ model: 'gpt-5.1', input: 'hi', stream: true });
    for await (const _ of stream);
    const recs = await newLogs(before);
    expect(recs).toHaveLength(2);
    for (const { log } of recs)
      expect(log.attributes).toMatchObject({
        [ATTR.inputTokens]: 4000,
        [ATTR.outputTokens]: 90,
        [ATTR.cacheReadInputTokens]: 1000,
        [ATTR.cacheCreationInputTokens]: 2000,
        [ATTR.usageType]: 'exact',
      });
  });
});

describe('instrumentOpenAI: embeddings.create', () => {
  it('records one embeddings record per batch with the input count', async () => {
    const before = await mark();
    const r = await h.openai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b', 'c'] });
    expect(r.data).toHaveLength(3);
    expect(r.data[0]?.embedding).toHaveLength(8);
    expect(r.data[0]?.embedding[0]).toBe(0.125);
    const recs = await newLogs(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.log.attributes).toMatchObject({
      [ATTR.operationName]: 'embeddings',
      [ATTR.serviceType]: 'embedding',
      [ATTR.requestModel]: 'text-embedding-3-small',
      [ATTR.inputTokens]: 9,
      [ATTR.outputTokens]: 0,
      [ATTR.embeddingInputs]: 3,
      [ATTR.usageType]: 'exact',
    });
    expect(recs[0]?.span?.name).toBe('embeddings text-embedding-3-small');
  });
});
