import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, USAGE_EVENT_NAME } from '../src/contract.js';
import { createPricer, nanoToUsd } from '../src/index.js';
import { FAKE_TOOL_ARGUMENTS } from '../src/testing/index.js';
import { type Harness, startHarness } from './support/harness.js';

const MODELS = {
  'gpt-4o-mini': { usage: { inputTokens: 20, outputTokens: 7 }, responseModel: 'gpt-4o-mini-2024-07-18' },
  'o3-mini': { usage: { inputTokens: 1200, outputTokens: 300, cachedTokens: 1024, reasoningTokens: 192 } },
  // prompt_tokens 3000 = 476 uncached + 1024 read from the cache + 1500 written to it (cache_write_tokens).
  'gpt-4.1': {
    usage: { inputTokens: 3000, outputTokens: 50, cachedTokens: 1024, cacheCreationTokens: 1500 },
  },
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

/** Records emitted since `before` (logs), matched with their spans by span id. */
async function newRecords(before: number) {
  const { logs, spans } = await h.collect();
  const fresh = logs.slice(before);
  return fresh.map((log) => ({ log, span: spans.find((s) => s.spanId === log.spanId) }));
}

describe('instrumentOpenAI: chat.completions.create', () => {
  it('records a non-streaming call with exact usage on a span and a log record', async () => {
    const before = await mark();
    const res = await h.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
    const recs = await newRecords(before);
    expect(recs).toHaveLength(1);
    const { log, span } = recs[0]!;
    expect(log.eventName).toBe(USAGE_EVENT_NAME);
    expect(log.attributes).toMatchObject({
      [ATTR.operationName]: 'chat',
      [ATTR.providerName]: 'openai',
      [ATTR.requestModel]: 'gpt-4o-mini',
      [ATTR.responseModel]: 'gpt-4o-mini-2024-07-18',
      [ATTR.inputTokens]: 20,
      [ATTR.outputTokens]: 7,
      [ATTR.usageType]: 'exact',
      [ATTR.serviceType]: 'llm',
    });
    expect(log.attributes[ATTR.cacheReadInputTokens]).toBeUndefined();
    expect(log.attributes[ATTR.reasoningOutputTokens]).toBeUndefined();
    expect(log.attributes[ATTR.errorType]).toBeUndefined();
    expect(log.attributes[ATTR.ttftMs]).toBeUndefined();
    expect(log.attributes[ATTR.usageId]).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof log.attributes[ATTR.costUsd]).toBe('number');
    expect(span?.name).toBe('chat gpt-4o-mini');
    expect(span?.kind).toBe(3); // SPAN_KIND_CLIENT
    expect(span?.attributes).toEqual(log.attributes);
    expect(log.traceId).toBe(span?.traceId);
    expect(log.resource['service.name']).toBe('harness-service');
  });

  it('maps cached and reasoning tokens exactly', async () => {
    const before = await mark();
    await h.openai.chat.completions.create({
      model: 'o3-mini',
      messages: [{ role: 'user', content: 'think' }],
    });
    const [rec] = await newRecords(before);
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 1200,
      [ATTR.outputTokens]: 300,
      [ATTR.cacheReadInputTokens]: 1024,
      [ATTR.reasoningOutputTokens]: 192,
      [ATTR.usageType]: 'exact',
    });
    expect(rec?.log.attributes[ATTR.cacheCreationInputTokens]).toBeUndefined();
  });

  it('maps prompt-cache writes (cache_write_tokens) exactly, streaming or not, and prices them', async () => {
    const expected = {
      inputTokens: 3000,
      outputTokens: 50,
      cacheReadInputTokens: 1024,
      cacheCreationInputTokens: 1500,
      reasoningOutputTokens: 0,
    };
    const p = createPricer().priceUsage(expected, { provider: 'openai', model: 'gpt-4.1' });
    if (p.status !== 'priced') throw new Error('gpt-4.1 is not in the catalog');
    const before = await mark();
    await h.openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] });
    const stream = await h.openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    for await (const _ of stream);
    const recs = await newRecords(before);
    expect(recs).toHaveLength(2);
    for (const { log } of recs)
      expect(log.attributes).toMatchObject({
        [ATTR.inputTokens]: 3000,
        [ATTR.outputTokens]: 50,
        [ATTR.cacheReadInputTokens]: 1024,
        [ATTR.cacheCreationInputTokens]: 1500,
        [ATTR.usageType]: 'exact',
        [ATTR.costUsd]: nanoToUsd(p.costNanoUsd),
      });
  });

  it('streams without include_usage: asks for usage, hides the usage-only chunk, records exact usage and TTFT', async () => {
    const before = await mark();
    const stream = await h.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    // role chunk + 6 word chunks + finish chunk; the usage-only chunk is not surfaced
    expect(chunks).toHaveLength(8);
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      'Hello from the spendline fake provider.',
    );
    const sent = h.fake.requests.at(-1)?.body as { stream_options?: unknown };
    expect(sent.stream_options).toEqual({ include_usage: true });
    const [rec] = await newRecords(before);
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 20,
      [ATTR.outputTokens]: 7,
      [ATTR.usageType]: 'exact',
      [ATTR.responseModel]: 'gpt-4o-mini-2024-07-18',
    });
    expect(typeof rec?.log.attributes[ATTR.ttftMs]).toBe('number');
    expect(Number(rec?.log.attributes[ATTR.ttftMs])).toBeLessThanOrEqual(
      Number(rec?.log.attributes[ATTR.durationMs]),
    );
  });

  it('streams with other stream_options: adds include_usage beside them, leaves the caller’s body untouched', async () => {
    const before = await mark();
    const body = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'hi' }],
      stream: true as const,
      stream_options: { include_obfuscation: false },
    };
    const stream = await h.openai.chat.completions.create(body);
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks).toHaveLength(8); // the usage-only chunk is still hidden
    const sent = h.fake.requests.at(-1)?.body as {
      stream_options?: unknown;
      model?: unknown;
      stream?: unknown;
    };
    expect(sent.stream_options).toEqual({ include_obfuscation: false, include_usage: true });
    expect([sent.model, sent.stream]).toEqual(['gpt-4o-mini', true]);
    expect(body.stream_options).toEqual({ include_obfuscation: false });
    const [rec] = await newRecords(before);
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 20,
      [ATTR.outputTokens]: 7,
      [ATTR.usageType]: 'exact',
    });
  });

  it('streams with the caller’s include_usage: forwards the usage chunk unchanged', async () => {
    const before = await mark();
    const stream = await h.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks).toHaveLength(9);
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.prompt_tokens).toBe(20);
    const recs = await newRecords(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 20,
      [ATTR.outputTokens]: 7,
      [ATTR.usageType]: 'exact',
    });
  });

  it('streams with include_usage: false: respects it and estimates with the tokenizer', async () => {
    const before = await mark();
    const stream = await h.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
      stream: true,
      stream_options: { include_usage: false },
    });
    let n = 0;
    for await (const _ of stream) n++;
    expect(n).toBe(8);
    const [rec] = await newRecords(before);
    // o200k_base: "hello there" = 2 tokens; "Hello from the spendline fake provider." = 8 tokens
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 2,
      [ATTR.outputTokens]: 8,
      [ATTR.usageType]: 'estimated',
    });
  });

  it('records an aborted stream (caller stops reading) as estimated', async () => {
    const before = await mark();
    const stream = await h.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello there' }],
      stream: true,
    });
    let n = 0;
    for await (const _ of stream) {
      if (++n === 3) break; // role chunk, "Hello", " from"
    }
    const [rec] = await newRecords(before);
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 2,
      [ATTR.outputTokens]: 2,
      [ATTR.usageType]: 'estimated',
    });
    expect(rec?.log.attributes[ATTR.errorType]).toBeUndefined();
  });

  it('records a stream cut by the server with error.type, estimated, and rethrows', async () => {
    const before = await mark();
    const stream = await h.openai.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], stream: true },
      { headers: { 'x-fake-error': 'abort', 'x-fake-abort-after': '3' } },
    );
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0]?.delta.content ?? '');
      })(),
    ).rejects.toThrow();
    expect(seen).toEqual(['', 'Hello', ' from']);
    const [rec] = await newRecords(before);
    expect(rec?.log.attributes).toMatchObject({
      [ATTR.inputTokens]: 2,
      [ATTR.outputTokens]: 2,
      [ATTR.usageType]: 'estimated',
    });
    expect(rec?.log.attributes[ATTR.errorType]).toBe('TypeError'); // undici: "terminated"
    expect(typeof rec?.log.attributes[ATTR.costUsd]).toBe('number'); // what was consumed is priced
    expect(rec?.span?.statusCode).toBe(2);
  });

  it('records tool calls (non-streaming and streaming)', async () => {
    const before = await mark();
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'search', parameters: { type: 'object', properties: {} } },
      },
    ];
    const res = await h.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'find' }],
      tools,
    });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' ? call.function.arguments : undefined).toBe(FAKE_TOOL_ARGUMENTS);
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    const stream = await h.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'find' }],
      tools,
      stream: true,
    });
    let args = '';
    for await (const c of stream) args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    expect(args).toBe(FAKE_TOOL_ARGUMENTS);
    const recs = await newRecords(before);
    expect(recs).toHaveLength(2);
    for (const r of recs) {
      expect(r.log.attributes).toMatchObject({
        [ATTR.inputTokens]: 20,
        [ATTR.outputTokens]: 7,
        [ATTR.usageType]: 'exact',
        [ATTR.requestTools]: true,
      });
      expect(r.log.attributes[ATTR.requestStructuredOutput]).toBeUndefined();
    }
    expect(typeof recs[1]?.log.attributes[ATTR.ttftMs]).toBe('number');
  });

  it.each([429, 500])('records HTTP %i with error.type and rethrows the original error', async (status) => {
    const before = await mark();
    const err = await h.openai.chat.completions
      .create({ model: `gpt-4o-mini-error-${status}`, messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(
      status === 429 ? (await import('openai')).RateLimitError : (await import('openai')).InternalServerError,
    );
    expect((err as { status: number }).status).toBe(status);
    const recs = await newRecords(before);
    expect(recs).toHaveLength(1);
    const a = recs[0]?.log.attributes ?? {};
    expect(a[ATTR.errorType]).toBe(String(status));
    expect(a[ATTR.requestModel]).toBe(`gpt-4o-mini-error-${status}`);
    expect(a[ATTR.inputTokens]).toBeUndefined();
    expect(a[ATTR.costUsd]).toBeUndefined();
    expect(recs[0]?.span?.statusCode).toBe(2);
  });

  it('keeps APIPromise helpers: withResponse() returns data and the raw response', async () => {
    const before = await mark();
    const { data, response } = await h.openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    expect(data.usage?.total_tokens).toBe(27);
    expect(response.status).toBe(200);
    expect(await newRecords(before)).toHaveLength(1);
  });

  it('records the client helpers built on create: chat.completions.stream() / parse(), responses.stream() / parse()', async () => {
    const before = await mark();
    const runner = h.openai.chat.completions.stream({
      model: 'o3-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
    const parsed = await h.openai.chat.completions.parse({
      model: 'o3-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(parsed.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
    const rs = h.openai.responses.stream({ model: 'o3-mini', input: 'hi' });
    expect((await rs.finalResponse()).output_text).toBe('Hello from the spendline fake provider.');
    const rp = await h.openai.responses.parse({ model: 'o3-mini', input: 'hi' });
    expect(rp.output_text).toBe('Hello from the spendline fake provider.');
    const recs = await newRecords(before);
    expect(recs).toHaveLength(4);
    for (const { log } of recs)
      expect(log.attributes).toMatchObject({
        [ATTR.requestModel]: 'o3-mini',
        [ATTR.inputTokens]: 1200,
        [ATTR.outputTokens]: 300,
        [ATTR.cacheReadInputTokens]: 1024,
        [ATTR.reasoningOutputTokens]: 192,
        [ATTR.usageType]: 'exact',
      });
  });
});
