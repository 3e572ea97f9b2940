import { createOpenAI } from '@ai-sdk/openai';
import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { Tiktoken } from 'js-tiktoken/lite';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ATTR } from '../src/contract.js';
import {
  instrumentAnthropic,
  instrumentBedrock,
  instrumentGoogleGenAI,
  instrumentOpenAI,
  spendlineMiddleware,
  startTelemetry,
  type TelemetryHandle,
} from '../src/index.js';
import { estimateTokens } from '../src/instrument/estimateTokens.js';
import { type BedrockUsage, startFakeBedrock } from './support/fakeBedrock.js';
import { type GeminiUsage, startFakeGemini } from './support/fakeGemini.js';
import { type CapturedLog, type OtlpReceiver, startOtlpReceiver } from './support/otlpReceiver.js';
import { type RawAnswer, type RawProvider, startRawProvider } from './support/rawProvider.js';

const PROMPT = 'Summarise the SECRET-PROMPT-7f3a quarterly plan';
const REPLY = 'Hello there, here is the summary';
const API_KEY = 'sk-live-CREDENTIAL-91b2';
const QUERY_KEY = 'QUERYKEY-5c1d';

/** Per-model answers of the raw provider; a test sets its model's answer before calling. */
const answers = new Map<string, RawAnswer>();

function chatJson(usage: unknown): RawAnswer {
  return {
    json: {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o-mini-2024-07-18',
      choices: [{ index: 0, message: { role: 'assistant', content: REPLY }, finish_reason: 'stop' }],
      usage,
    },
  };
}

function chatChunk(content: string | undefined, usage: unknown, choices = true): { data: unknown } {
  return {
    data: {
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'gpt-4o-mini-2024-07-18',
      choices: choices
        ? [{ index: 0, delta: content === undefined ? {} : { content }, finish_reason: null }]
        : [],
      ...(usage === undefined ? {} : { usage }),
    },
  };
}

/** A chat stream of the reply in words, then the usage chunk (when given), then [DONE]. */
function chatStream(usage: unknown): RawAnswer {
  const words = REPLY.split(/(?= )/);
  return {
    sse: [
      ...words.map((w) => chatChunk(w, null)),
      ...(usage === undefined ? [] : [chatChunk(undefined, usage, false)]),
      { data: '[DONE]' },
    ],
  };
}

function anthropicMessage(usage: unknown): RawAnswer {
  return {
    json: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [{ type: 'text', text: REPLY }],
      stop_reason: 'end_turn',
      usage,
    },
  };
}

function anthropicStream(startUsage: unknown, deltaUsage: unknown): RawAnswer {
  return {
    sse: [
      {
        event: 'message_start',
        data: {
          type: 'message_start',
          message: {
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            model: 'claude-sonnet-4-5',
            content: [],
            stop_reason: null,
            usage: startUsage,
          },
        },
      },
      {
        event: 'content_block_start',
        data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      },
      {
        event: 'content_block_delta',
        data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: REPLY } },
      },
      { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
      {
        event: 'message_delta',
        data: { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: deltaUsage },
      },
      { event: 'message_stop', data: { type: 'message_stop' } },
    ],
  };
}

let raw: RawProvider;
let receiver: OtlpReceiver;
let telemetry: TelemetryHandle;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  raw = await startRawProvider((_path, body) => {
    const a = answers.get(String(body.model));
    return a ?? { status: 404, json: { error: { message: `no answer for ${String(body.model)}` } } };
  });
  receiver = await startOtlpReceiver();
  telemetry = startTelemetry({
    serviceName: 'hostile-providers',
    env: { OTLP_ENDPOINT: receiver.url },
    scheduledDelayMillis: 50,
    exportTimeoutMillis: 2000,
    onWarning: () => undefined,
  });
  openai = instrumentOpenAI(
    new OpenAI({
      apiKey: API_KEY,
      baseURL: `${raw.url}/v1`,
      defaultQuery: { 'api-key': QUERY_KEY },
      maxRetries: 0,
    }),
  );
  anthropic = instrumentAnthropic(new Anthropic({ apiKey: API_KEY, baseURL: raw.url, maxRetries: 0 }));
});
afterAll(async () => {
  await telemetry.shutdown();
  await Promise.all([receiver.close(), raw.close()]);
});

/** The one record a test's calls produced (flushing first, so earlier tests' records are excluded). */
async function recordsOf(model: string): Promise<CapturedLog[]> {
  await telemetry.forceFlush();
  return receiver.logs().filter((l) => l.attributes[ATTR.requestModel] === model);
}

async function onlyRecordOf(model: string): Promise<CapturedLog['attributes']> {
  const recs = await recordsOf(model);
  expect(recs).toHaveLength(1);
  return recs[0]?.attributes ?? {};
}

const rejectedInvalid = (): number => telemetry.stats().rejected.provider_usage_invalid ?? 0;

describe('malformed provider usage is never recorded as exact', () => {
  // prompt_tokens 20 is sound in each of these; the rest of the usage is not.
  const keepsInput: [string, unknown][] = [
    ['completion_tokens as a string', { prompt_tokens: 20, completion_tokens: '7', total_tokens: 27 }],
    ['completion_tokens missing', { prompt_tokens: 20, total_tokens: 20 }],
    ['completion_tokens null', { prompt_tokens: 20, completion_tokens: null }],
    ['completion_tokens negative', { prompt_tokens: 20, completion_tokens: -7 }],
    ['completion_tokens fractional', { prompt_tokens: 20, completion_tokens: 7.5 }],
    ['completion_tokens past 2^53', { prompt_tokens: 20, completion_tokens: 2 ** 60 }],
    [
      'cached tokens beyond the prompt',
      { prompt_tokens: 20, completion_tokens: 7, prompt_tokens_details: { cached_tokens: 50 } },
    ],
    [
      'reasoning beyond the completion',
      { prompt_tokens: 20, completion_tokens: 7, completion_tokens_details: { reasoning_tokens: 9 } },
    ],
  ];
  it.each(keepsInput)(
    'openai chat, %s: estimated output, the sound prompt count kept',
    async (label, usage) => {
      const model = `gpt-4o-mini-keep-${label.replace(/\W+/g, '-')}`;
      answers.set(model, chatJson(usage));
      const before = rejectedInvalid();
      const res = await openai.chat.completions.create({
        model,
        messages: [{ role: 'user', content: PROMPT }],
      });
      expect(res.choices[0]?.message.content).toBe(REPLY);
      const a = await onlyRecordOf(model);
      expect(a[ATTR.usageType]).toBe('estimated');
      expect(a[ATTR.inputTokens]).toBe(20);
      expect(a[ATTR.outputTokens]).toBe(await estimateTokens(model, [REPLY]));
      expect(a[ATTR.cacheReadInputTokens]).toBeUndefined();
      expect(a[ATTR.reasoningOutputTokens]).toBeUndefined();
      expect(typeof a[ATTR.costUsd]).toBe('number');
      expect(rejectedInvalid()).toBe(before + 1);
    },
  );

  const noSoundCount: [string, unknown][] = [
    ['prompt_tokens negative', { prompt_tokens: -5, completion_tokens: 7 }],
    ['prompt_tokens fractional', { prompt_tokens: 12.5, completion_tokens: 7 }],
    ['prompt_tokens past 2^53', { prompt_tokens: 2 ** 60, completion_tokens: 7 }],
    ['prompt_tokens a string', { prompt_tokens: '12', completion_tokens: 7 }],
  ];
  it.each(noSoundCount)('openai chat, %s: estimated input and output', async (label, usage) => {
    const model = `gpt-4o-mini-none-${label.replace(/\W+/g, '-')}`;
    answers.set(model, chatJson(usage));
    const before = rejectedInvalid();
    await openai.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] });
    const a = await onlyRecordOf(model);
    expect(a[ATTR.usageType]).toBe('estimated');
    expect(a[ATTR.inputTokens]).toBe(await estimateTokens(model, [PROMPT]));
    expect(a[ATTR.outputTokens]).toBe(await estimateTokens(model, [REPLY]));
    expect(rejectedInvalid()).toBe(before + 1);
  });

  it.each([
    ['usage null', null],
    ['usage empty', {}],
  ])('openai chat, %s: estimated (no usage to read)', async (label, usage) => {
    const model = `gpt-4o-mini-absent-${label.replace(/\W+/g, '-')}`;
    answers.set(model, chatJson(usage));
    await openai.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] });
    const a = await onlyRecordOf(model);
    expect(a[ATTR.usageType]).toBe('estimated');
    expect(a[ATTR.inputTokens]).toBe(await estimateTokens(model, [PROMPT]));
  });

  it('openai chat: all-zero usage (a placeholder some compatible servers send) is estimated, not an exact $0', async () => {
    const model = 'gpt-4o-mini-zero-usage';
    answers.set(model, chatJson({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 }));
    await openai.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] });
    const a = await onlyRecordOf(model);
    expect(a[ATTR.usageType]).toBe('estimated');
    expect(a[ATTR.inputTokens]).toBe(await estimateTokens(model, [PROMPT]));
    expect(a[ATTR.outputTokens]).toBe(await estimateTokens(model, [REPLY]));
    expect(telemetry.stats().rejected.provider_usage_zero).toBe(1);
  });

  it('openai chat: null details (as several compatible providers send) are still exact', async () => {
    const model = 'gpt-4o-mini-null-details';
    answers.set(
      model,
      chatJson({
        prompt_tokens: 20,
        completion_tokens: 7,
        total_tokens: 27,
        prompt_tokens_details: null,
        completion_tokens_details: null,
      }),
    );
    await openai.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] });
    const a = await onlyRecordOf(model);
    expect(a).toMatchObject({ [ATTR.usageType]: 'exact', [ATTR.inputTokens]: 20, [ATTR.outputTokens]: 7 });
  });

  it('openai chat stream: a malformed usage chunk is estimated; a stream without one is estimated', async () => {
    const bad = 'gpt-4o-mini-stream-bad-usage';
    const none = 'gpt-4o-mini-stream-no-usage';
    answers.set(bad, chatStream({ prompt_tokens: 20, completion_tokens: -1 }));
    answers.set(none, chatStream(undefined));
    for (const model of [bad, none]) {
      const stream = await openai.chat.completions.create({
        model,
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
      });
      let text = '';
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      expect(text).toBe(REPLY);
    }
    const [a, b] = [await onlyRecordOf(bad), await onlyRecordOf(none)];
    expect(a).toMatchObject({ [ATTR.usageType]: 'estimated', [ATTR.inputTokens]: 20 });
    expect(b[ATTR.usageType]).toBe('estimated');
    expect(b[ATTR.inputTokens]).toBe(await estimateTokens(none, [PROMPT]));
    expect(b[ATTR.outputTokens]).toBe(await estimateTokens(none, [REPLY]));
  });

  it('anthropic: output_tokens missing is estimated, the input kept', async () => {
    const model = 'claude-sonnet-4-5-no-output';
    answers.set(model, anthropicMessage({ input_tokens: 30, cache_read_input_tokens: 100 }));
    await anthropic.messages.create({ model, max_tokens: 50, messages: [{ role: 'user', content: PROMPT }] });
    const a = await onlyRecordOf(model);
    expect(a).toMatchObject({ [ATTR.usageType]: 'estimated', [ATTR.inputTokens]: 130 });
  });

  it('anthropic stream: message_delta reporting its input and cache counts as null keeps message_start counts, exact', async () => {
    const model = 'claude-sonnet-4-5-null-delta';
    answers.set(
      model,
      anthropicStream(
        { input_tokens: 30, cache_read_input_tokens: 100, cache_creation_input_tokens: 0, output_tokens: 1 },
        {
          input_tokens: null,
          cache_read_input_tokens: null,
          cache_creation_input_tokens: null,
          output_tokens: 12,
        },
      ),
    );
    const stream = await anthropic.messages.create({
      model,
      max_tokens: 50,
      messages: [{ role: 'user', content: PROMPT }],
      stream: true,
    });
    for await (const _ of stream) {
      // read it all
    }
    const a = await onlyRecordOf(model);
    expect(a).toMatchObject({
      [ATTR.usageType]: 'exact',
      [ATTR.inputTokens]: 130,
      [ATTR.cacheReadInputTokens]: 100,
      [ATTR.outputTokens]: 12,
    });
  });

  it('Vercel AI SDK: a negative count from the provider is estimated, not exact', async () => {
    const model = 'gpt-4o-mini-vercel-negative';
    answers.set(model, chatJson({ prompt_tokens: 20, completion_tokens: -3 }));
    const provider = createOpenAI({ baseURL: `${raw.url}/v1`, apiKey: API_KEY });
    const m = wrapLanguageModel({ model: provider.chat(model), middleware: spendlineMiddleware() });
    const r = await generateText({ model: m, prompt: PROMPT });
    expect(r.text).toBe(REPLY);
    const a = await onlyRecordOf(model);
    expect(a).toMatchObject({ [ATTR.usageType]: 'estimated', [ATTR.inputTokens]: 20 });
  });
});

describe('estimates do bounded work whatever the text', () => {
  it('a 100,000-character reply without spaces (Chinese) is estimated from a bounded sample of the text', async () => {
    const model = 'gpt-4o-mini-cjk-reply';
    const base = '我们今天讨论的是一个非常重要的问题关于成本的观察';
    const piece = base.repeat(50); // 1,200 characters per chunk
    const chunks = 84;
    answers.set(model, {
      sse: [...Array.from({ length: chunks }, () => chatChunk(piece, null)), { data: '[DONE]' }],
    });
    const encode = vi.spyOn(Tiktoken.prototype, 'encode');
    try {
      const stream = await openai.chat.completions.create({
        model,
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
      });
      let n = 0;
      for await (const c of stream) n += c.choices[0]?.delta.content?.length ?? 0;
      expect(n).toBe(piece.length * chunks);
      const a = await onlyRecordOf(model);
      expect(a[ATTR.usageType]).toBe('estimated');
      // o200k_base reads this text as one token per two characters.
      const out = Number(a[ATTR.outputTokens]);
      expect(Math.abs(out - (piece.length * chunks) / 2)).toBeLessThanOrEqual((piece.length * chunks) / 40);
      const encoded = encode.mock.calls.reduce((sum, [text]) => sum + String(text).length, 0);
      // Before: the whole 100,800 characters went through the quadratic byte-pair merge (minutes of CPU).
      expect(encoded).toBeGreaterThan(0);
      expect(encoded).toBeLessThanOrEqual(24 * 32 + PROMPT.length);
    } finally {
      encode.mockRestore();
    }
  });
});

describe('Vercel AI SDK streams that end badly', () => {
  const vercel = (model: string) =>
    wrapLanguageModel({
      model: createOpenAI({ baseURL: `${raw.url}/v1`, apiKey: API_KEY }).chat(model),
      middleware: spendlineMiddleware(),
    });

  it('a stream cut mid-way: one record, estimated from what arrived, with its error', async () => {
    const model = 'gpt-4o-mini-vercel-cut';
    const full = chatStream({ prompt_tokens: 20, completion_tokens: 7 });
    answers.set(model, { sse: full.sse?.slice(0, 3), cut: true });
    const errors: unknown[] = [];
    const r = streamText({
      model: vercel(model),
      prompt: PROMPT,
      onError: ({ error }) => void errors.push(error),
    });
    let text = '';
    try {
      for await (const t of r.textStream) text += t;
    } catch (e) {
      errors.push(e);
    }
    expect(text.length).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThan(0);
    const a = await onlyRecordOf(model);
    expect(a[ATTR.usageType]).toBe('estimated');
    expect(a[ATTR.outputTokens]).toBe(await estimateTokens(model, [text]));
    expect(typeof a[ATTR.errorType]).toBe('string');
  });

  it('a stream the caller stops reading: one record, estimated', async () => {
    const model = 'gpt-4o-mini-vercel-break';
    answers.set(model, chatStream({ prompt_tokens: 20, completion_tokens: 7 }));
    const r = streamText({ model: vercel(model), prompt: PROMPT, maxRetries: 0 });
    for await (const _ of r.textStream) break;
    const recs = await recordsOf(model);
    expect(recs.length).toBeLessThanOrEqual(1);
    // The AI SDK may read on after the caller stops; whichever way, never two records, never exact 0.
    for (const rec of recs) expect(rec.attributes[ATTR.inputTokens]).toBeGreaterThan(0);
  });
});

describe('malformed usage from @google/genai and Bedrock', () => {
  it('Gemini: cached content beyond the prompt is estimated, the prompt count kept', async () => {
    const gemini = await startFakeGemini({
      promptTokenCount: 10,
      candidatesTokenCount: 5,
      cachedContentTokenCount: 50,
    } as GeminiUsage);
    try {
      const ai = instrumentGoogleGenAI(
        new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: gemini.url } }),
      );
      const model = 'gemini-2.5-flash-cache-beyond';
      await ai.models.generateContent({ model, contents: PROMPT });
      const a = await onlyRecordOf(model);
      expect(a).toMatchObject({ [ATTR.usageType]: 'estimated', [ATTR.inputTokens]: 10 });
      expect(a[ATTR.cacheReadInputTokens]).toBeUndefined();
    } finally {
      await gemini.close();
    }
  });

  it('Gemini: a negative prompt count is estimated from the prompt’s text (contents), not 0', async () => {
    const gemini = await startFakeGemini({ promptTokenCount: -1, candidatesTokenCount: 5 });
    try {
      const ai = instrumentGoogleGenAI(
        new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: gemini.url } }),
      );
      const model = 'gemini-2.5-flash-negative-prompt';
      await ai.models.generateContent({
        model,
        contents: [{ role: 'user', parts: [{ text: PROMPT }] }],
        config: { systemInstruction: 'Be brief.' },
      });
      const a = await onlyRecordOf(model);
      expect(a[ATTR.usageType]).toBe('estimated');
      expect(a[ATTR.inputTokens]).toBe(await estimateTokens(model, ['Be brief.', PROMPT]));
    } finally {
      await gemini.close();
    }
  });

  it('Gemini stream left after its first chunk: provisional usage is not exact; input kept, output estimated', async () => {
    const gemini = await startFakeGemini({ promptTokenCount: 40, candidatesTokenCount: 9 });
    try {
      const ai = instrumentGoogleGenAI(
        new GoogleGenAI({ apiKey: API_KEY, httpOptions: { baseUrl: gemini.url } }),
      );
      const left = 'gemini-2.5-flash-left-early';
      const read = 'gemini-2.5-flash-read-all';
      let first = '';
      for await (const c of await ai.models.generateContentStream({ model: left, contents: PROMPT })) {
        first = c.text ?? '';
        break;
      }
      for await (const _ of await ai.models.generateContentStream({ model: read, contents: PROMPT })) {
        // read it all
      }
      expect(first).toBe('Hello ');
      const a = await onlyRecordOf(left);
      expect(a).toMatchObject({ [ATTR.usageType]: 'estimated', [ATTR.inputTokens]: 40 });
      expect(a[ATTR.outputTokens]).toBe(await estimateTokens(left, [first]));
      expect(await onlyRecordOf(read)).toMatchObject({
        [ATTR.usageType]: 'exact',
        [ATTR.inputTokens]: 40,
        [ATTR.outputTokens]: 9,
      });
    } finally {
      await gemini.close();
    }
  });

  it('Bedrock Converse: a negative output count is estimated, the input kept', async () => {
    const fake = await startFakeBedrock({ inputTokens: 10, outputTokens: -1 } as BedrockUsage);
    const bedrock = instrumentBedrock(
      new BedrockRuntimeClient({
        region: 'us-east-1',
        endpoint: fake.url,
        credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
        maxAttempts: 1,
      }),
    );
    try {
      const model = 'anthropic.claude-3-5-haiku-20241022-v1:0';
      await bedrock.send(
        new ConverseCommand({ modelId: model, messages: [{ role: 'user', content: [{ text: PROMPT }] }] }),
      );
      const a = await onlyRecordOf(model);
      expect(a).toMatchObject({ [ATTR.usageType]: 'estimated', [ATTR.inputTokens]: 10 });
    } finally {
      bedrock.destroy();
      await fake.close();
    }
  });
});

describe('calls whose usage is unknown are labelled so, never exact 0', () => {
  it.each([400, 500])('HTTP %i: usage unknown, no tokens, no cost', async (status) => {
    const model = `gpt-4o-mini-http-${status}`;
    answers.set(model, {
      status,
      json: { error: { message: `bad request: ${PROMPT}`, type: 'invalid_request_error' } },
    });
    await expect(
      openai.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] }),
    ).rejects.toMatchObject({ status });
    const a = await onlyRecordOf(model);
    expect(a[ATTR.usageType]).toBe('unknown');
    expect(a[ATTR.errorType]).toBe(String(status));
    expect(a[ATTR.inputTokens]).toBeUndefined();
    expect(a[ATTR.costUsd]).toBeUndefined();
  });

  it('a stream aborted by the caller before any token: estimated from the prompt (the client ends it quietly)', async () => {
    const model = 'gpt-4o-mini-stall';
    answers.set(model, { stall: true });
    const ac = new AbortController();
    const stream = await openai.chat.completions.create(
      { model, messages: [{ role: 'user', content: PROMPT }], stream: true },
      { signal: ac.signal },
    );
    const reading = (async () => {
      let n = 0;
      for await (const _ of stream) n++;
      return n;
    })();
    ac.abort();
    expect(await reading).toBe(0);
    const a = await onlyRecordOf(model);
    expect(a[ATTR.usageType]).toBe('estimated');
    expect(a[ATTR.inputTokens]).toBe(await estimateTokens(model, [PROMPT]));
    expect(a[ATTR.outputTokens]).toBe(0);
  });

  it('a provider that cannot be reached: usage unknown, the connection error type only', async () => {
    const model = 'gpt-4o-mini-unreachable';
    const closed = await startRawProvider(() => ({}));
    const url = closed.url;
    await closed.close();
    const client = instrumentOpenAI(new OpenAI({ apiKey: API_KEY, baseURL: `${url}/v1`, maxRetries: 0 }));
    await expect(
      client.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] }),
    ).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    const a = await onlyRecordOf(model);
    expect(a[ATTR.usageType]).toBe('unknown');
    expect(a[ATTR.errorType]).toBe('APIConnectionError');
    expect(a[ATTR.inputTokens]).toBeUndefined();
    expect(a[ATTR.costUsd]).toBeUndefined();
  });

  it('asResponse(): the call is still recorded once, its usage unknown (the caller reads the body)', async () => {
    const model = 'gpt-4o-mini-as-response';
    answers.set(model, chatJson({ prompt_tokens: 20, completion_tokens: 7 }));
    const res = await openai.chat.completions
      .create({ model, messages: [{ role: 'user', content: PROMPT }] })
      .asResponse();
    const body = (await res.json()) as { usage: { prompt_tokens: number } };
    expect(body.usage.prompt_tokens).toBe(20);
    const a = await onlyRecordOf(model);
    expect(a[ATTR.usageType]).toBe('unknown');
    expect(a[ATTR.inputTokens]).toBeUndefined();
    expect(a[ATTR.costUsd]).toBeUndefined();
  });

  it('anthropic asResponse() is recorded too; withResponse() stays exact', async () => {
    const raw1 = 'claude-sonnet-4-5-as-response';
    const both = 'claude-sonnet-4-5-with-response';
    answers.set(raw1, anthropicMessage({ input_tokens: 30, output_tokens: 12 }));
    answers.set(both, anthropicMessage({ input_tokens: 30, output_tokens: 12 }));
    const res = await anthropic.messages
      .create({ model: raw1, max_tokens: 50, messages: [{ role: 'user', content: PROMPT }] })
      .asResponse();
    await res.text();
    const { data } = await anthropic.messages
      .create({ model: both, max_tokens: 50, messages: [{ role: 'user', content: PROMPT }] })
      .withResponse();
    expect(data.usage.output_tokens).toBe(12);
    expect((await onlyRecordOf(raw1))[ATTR.usageType]).toBe('unknown');
    expect(await onlyRecordOf(both)).toMatchObject({
      [ATTR.usageType]: 'exact',
      [ATTR.inputTokens]: 30,
      [ATTR.outputTokens]: 12,
    });
  });
});

describe('nothing of the prompt or the credentials leaves with content capture off', () => {
  it('error bodies echoing the prompt, api keys in headers and the query string are in no exported byte', async () => {
    const model = 'gpt-4o-mini-echo-422';
    answers.set(model, {
      status: 422,
      json: { error: { message: `Cannot process: ${PROMPT} (key ${API_KEY})` } },
    });
    await expect(
      openai.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] }),
    ).rejects.toBeDefined();
    await onlyRecordOf(model);
    // The call really carried them, so their absence below means something.
    const sent = raw.requests.at(-1);
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    const exported = JSON.stringify(receiver.bodies);
    expect(exported).toContain(model);
    for (const secret of ['SECRET-PROMPT-7f3a', 'CREDENTIAL-91b2', QUERY_KEY, raw.url]) {
      expect(exported).not.toContain(secret);
    }
  });
});

describe('concurrency', () => {
  it('a client instrumented after use, and again, records each later call once', async () => {
    const model = 'gpt-4o-mini-late';
    answers.set(model, chatJson({ prompt_tokens: 20, completion_tokens: 7 }));
    const client = new OpenAI({ apiKey: API_KEY, baseURL: `${raw.url}/v1`, maxRetries: 0 });
    await client.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] });
    expect(await recordsOf(model)).toHaveLength(0);
    instrumentOpenAI(instrumentOpenAI(client));
    await client.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] });
    await client.chat.completions.create({ model, messages: [{ role: 'user', content: PROMPT }] });
    const recs = await recordsOf(model);
    expect(recs).toHaveLength(2);
    for (const r of recs)
      expect(r.attributes).toMatchObject({ [ATTR.usageType]: 'exact', [ATTR.inputTokens]: 20 });
  });

  it('interleaved streams each get their own exact usage, once', async () => {
    const n = 24;
    for (let i = 0; i < n; i++) {
      answers.set(`gpt-4o-mini-conc-${i}`, chatStream({ prompt_tokens: 100 + i, completion_tokens: 10 + i }));
    }
    const streams = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        openai.chat.completions.create({
          model: `gpt-4o-mini-conc-${i}`,
          messages: [{ role: 'user', content: PROMPT }],
          stream: true,
        }),
      ),
    );
    // Round-robin one chunk at a time across all streams.
    const its = streams.map((s) => s[Symbol.asyncIterator]());
    let live = its.length;
    const done = new Array<boolean>(its.length).fill(false);
    while (live > 0) {
      for (let i = 0; i < its.length; i++) {
        if (done[i]) continue;
        const r = await its[i]?.next();
        if (r?.done) {
          done[i] = true;
          live--;
        }
      }
    }
    for (let i = 0; i < n; i++) {
      const a = await onlyRecordOf(`gpt-4o-mini-conc-${i}`);
      expect(a).toMatchObject({
        [ATTR.usageType]: 'exact',
        [ATTR.inputTokens]: 100 + i,
        [ATTR.outputTokens]: 10 + i,
      });
    }
  });
});
