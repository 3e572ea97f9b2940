import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import { instrumentAnthropic } from '../src/index.js';
import { type Harness, startHarness } from './support/harness.js';

// Semconv view: 2000 input tokens of which 1500 read from cache and 300 written to cache,
// so Anthropic itself reports input_tokens = 200.
const MODELS = {
  'claude-sonnet-4-6': {
    usage: { inputTokens: 2000, outputTokens: 150, cachedTokens: 1500, cacheCreationTokens: 300 },
    responseModel: 'claude-sonnet-4-6-20260101',
  },
  'claude-haiku-4-5': { usage: { inputTokens: 40, outputTokens: 12 } },
  // Extended thinking: 700 of the 900 output tokens were reasoning (output_tokens_details.thinking_tokens).
  'claude-opus-4-5': { usage: { inputTokens: 120, outputTokens: 900, reasoningTokens: 700 } },
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

describe('instrumentAnthropic: messages.create', () => {
  it('adds cache reads and writes back into gen_ai.usage.input_tokens (non-streaming)', async () => {
    const before = await mark();
    const msg = await h.anthropic.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(msg.usage.input_tokens).toBe(200);
    const recs = await newLogs(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.log.attributes).toMatchObject({
      [ATTR.operationName]: 'chat',
      [ATTR.providerName]: 'anthropic',
      [ATTR.requestModel]: 'claude-sonnet-4-6',
      [ATTR.responseModel]: 'claude-sonnet-4-6-20260101',
      [ATTR.inputTokens]: 2000,
      [ATTR.outputTokens]: 150,
      [ATTR.cacheReadInputTokens]: 1500,
      [ATTR.cacheCreationInputTokens]: 300,
      [ATTR.usageType]: 'exact',
      [ATTR.serviceType]: 'llm',
    });
    expect(recs[0]?.span?.name).toBe('chat claude-sonnet-4-6');
    expect(recs[0]?.log.attributes[ATTR.reasoningOutputTokens]).toBeUndefined();
  });

  it('over another instrumentation that returns its own stream (an async generator): recorded exactly', async () => {
    // Another instrumentation's patch of the class, under ours on the client, as OpenLLMetry's does for
    // a streamed call: its own async generator instead of the client's APIPromise.
    const proto = Anthropic.Messages.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const original = proto.create as (...a: unknown[]) => unknown;
    proto.create = function (this: unknown, ...args: unknown[]) {
      const result = original.apply(this, args);
      if ((args[0] as { stream?: boolean }).stream !== true) return result;
      return (async function* () {
        for await (const event of (await result) as AsyncIterable<unknown>) yield event;
      })();
    };
    try {
      const client = instrumentAnthropic(
        new Anthropic({ apiKey: 'sk-ant-test', baseURL: h.fake.anthropicBaseURL, maxRetries: 0 }),
      );
      const before = await mark();
      const stream = (await client.messages.create({
        model: 'claude-sonnet-4-6',
        max_tokens: 256,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      })) as AsyncIterable<{ type: string }>;
      const types: string[] = [];
      for await (const e of stream) types.push(e.type);
      expect(types.at(-1)).toBe('message_stop');
      const recs = await newLogs(before);
      expect(recs).toHaveLength(1);
      expect(recs[0]?.log.attributes).toMatchObject({
        [ATTR.inputTokens]: 2000,
        [ATTR.outputTokens]: 150,
        [ATTR.cacheReadInputTokens]: 1500,
        [ATTR.cacheCreationInputTokens]: 300,
        [ATTR.usageType]: 'exact',
      });
    } finally {
      proto.create = original;
    }
  });

  it('streams: usage from message_start plus message_delta, every event forwarded, TTFT set', async () => {
    const before = await mark();
    const stream = await h.anthropic.messages.create({
      model: 'claude-sonnet-4-6',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const types: string[] = [];
    for await (const e of stream) types.push(e.type);
    expect(types).toEqual([
      'message_start',
      'content_block_start', // the client itself drops `ping`
      ...Array(6).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const [rec] = await newLogs(before);
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 2000,
      [ATTR.outputTokens]: 150,
      [ATTR.cacheReadInputTokens]: 1500,
      [ATTR.cacheCreationInputTokens]: 300,
      [ATTR.usageType]: 'exact',
      [ATTR.responseModel]: 'claude-sonnet-4-6-20260101',
    });
    expect(typeof rec?.log.attributes[ATTR.ttftMs]).toBe('number');
  });

  it('maps extended-thinking tokens (output_tokens_details.thinking_tokens) to reasoning, streaming or not', async () => {
    const before = await mark();
    await h.anthropic.messages.create({
      model: 'claude-opus-4-5',
      max_tokens: 2048,
      messages: [{ role: 'user', content: 'think' }],
    });
    const stream = await h.anthropic.messages.create({
      model: 'claude-opus-4-5',
      max_tokens: 2048,
      messages: [{ role: 'user', content: 'think' }],
      stream: true,
    });
    for await (const _ of stream);
    const recs = await newLogs(before);
    expect(recs).toHaveLength(2);
    for (const { log } of recs)
      expect(log.attributes).toMatchObject({
        [ATTR.inputTokens]: 120,
        [ATTR.outputTokens]: 900,
        [ATTR.reasoningOutputTokens]: 700,
        [ATTR.usageType]: 'exact',
      });
  });

  it('the messages.stream() helper goes through the instrumented create and records once', async () => {
    const before = await mark();
    const final = await h.anthropic.messages
      .stream({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(final.usage.output_tokens).toBe(12);
    const recs = await newLogs(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 40,
      [ATTR.outputTokens]: 12,
      [ATTR.usageType]: 'exact',
    });
  });

  it('an aborted stream keeps the exact input side and estimates the output', async () => {
    const before = await mark();
    const stream = await h.anthropic.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let n = 0;
    for await (const _ of stream) if (++n === 4) break; // message_start, block_start, "Hello", " from"
    const [rec] = await newLogs(before);
    // cl100k_base: "Hello from" = 2 tokens
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 40,
      [ATTR.outputTokens]: 2,
      [ATTR.usageType]: 'estimated',
    });
  });

  it('a stream cut by the server: error.type recorded, input exact, output estimated, error rethrown', async () => {
    const before = await mark();
    const stream = await h.anthropic.messages.create(
      {
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      },
      { headers: { 'x-fake-error': 'abort', 'x-fake-abort-after': '4' } },
    );
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const e of stream) seen.push(e.type);
      })(),
    ).rejects.toThrow();
    expect(seen).toEqual(['message_start', 'content_block_start', 'content_block_delta']); // ping is dropped by the client
    const recs = await newLogs(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 40,
      [ATTR.outputTokens]: 1,
      [ATTR.usageType]: 'estimated',
    });
    expect(typeof recs[0]?.log.attributes[ATTR.errorType]).toBe('string');
  });

  it.each([429, 500])('records HTTP %i with error.type and rethrows it unchanged', async (status) => {
    const before = await mark();
    const err = await h.anthropic.messages
      .create(
        { model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-fake-error': String(status) } },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(status === 429 ? Anthropic.RateLimitError : Anthropic.InternalServerError);
    const recs = await newLogs(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.log.attributes[ATTR.errorType]).toBe(String(status));
    expect(recs[0]?.log.attributes[ATTR.inputTokens]).toBeUndefined();
  });

  it('records tool use', async () => {
    const before = await mark();
    const msg = await h.anthropic.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'find' }],
      tools: [{ name: 'search', input_schema: { type: 'object', properties: {} } }],
    });
    expect(msg.stop_reason).toBe('tool_use');
    const [rec] = await newLogs(before);
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 40,
      [ATTR.outputTokens]: 12,
      [ATTR.usageType]: 'exact',
    });
  });
});
