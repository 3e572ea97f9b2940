import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from '../src/testing/index.js';

let fake: FakeProvider | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('startFakeProvider', () => {
  it('serves the real openai client with configured usage, served model and reply, and logs requests', async () => {
    fake = await startFakeProvider({
      models: {
        'gpt-4.1': {
          usage: { inputTokens: 30, outputTokens: 9, cachedTokens: 16, reasoningTokens: 4 },
          responseModel: 'gpt-4.1-2025-04-14',
          reply: 'one two',
        },
      },
    });
    expect(fake.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const openai = new OpenAI({ apiKey: 'k', baseURL: fake.openaiBaseURL, maxRetries: 0 });
    const r = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(r.model).toBe('gpt-4.1-2025-04-14');
    expect(r.choices[0]?.message.content).toBe('one two');
    expect(r.usage).toMatchObject({
      prompt_tokens: 30,
      completion_tokens: 9,
      total_tokens: 39,
      prompt_tokens_details: { cached_tokens: 16 },
      completion_tokens_details: { reasoning_tokens: 4 },
    });
    fake.setModel('gpt-4.1', { usage: { inputTokens: 1, outputTokens: 2 } });
    const r2 = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(r2.usage?.total_tokens).toBe(3);
    expect(fake.requests.map((q) => `${q.method} ${q.path}`)).toEqual([
      'POST /v1/chat/completions',
      'POST /v1/chat/completions',
    ]);
    expect(fake.requests[0]?.body).toMatchObject({ model: 'gpt-4.1' });
  });

  it('reports Anthropic usage the Anthropic way (input_tokens without cache tokens)', async () => {
    fake = await startFakeProvider({
      models: {
        'claude-opus-4-1': {
          usage: { inputTokens: 100, outputTokens: 5, cachedTokens: 60, cacheCreationTokens: 30 },
        },
      },
    });
    const anthropic = new Anthropic({ apiKey: 'k', baseURL: fake.anthropicBaseURL, maxRetries: 0 });
    const m = await anthropic.messages.create({
      model: 'claude-opus-4-1',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(m.usage).toMatchObject({
      input_tokens: 10,
      cache_read_input_tokens: 60,
      cache_creation_input_tokens: 30,
      output_tokens: 5,
    });
  });

  it('injects failures by model name or header', async () => {
    fake = await startFakeProvider();
    const openai = new OpenAI({ apiKey: 'k', baseURL: fake.openaiBaseURL, maxRetries: 0 });
    const anthropic = new Anthropic({ apiKey: 'k', baseURL: fake.anthropicBaseURL, maxRetries: 0 });
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e: { status?: number }) => e.status ?? 'no-status',
      );
    expect(await status(openai.embeddings.create({ model: 'emb-error-503', input: 'x' }))).toBe(503);
    expect(
      await status(
        openai.responses.create({ model: 'm', input: 'x' }, { headers: { 'x-fake-error': '429' } }),
      ),
    ).toBe(429);
    expect(
      await status(
        anthropic.messages.create({
          model: 'claude-error-500',
          max_tokens: 8,
          messages: [{ role: 'user', content: 'x' }],
        }),
      ),
    ).toBe(500);
    // abort on a non-streaming call: the connection is cut before any answer
    expect(
      await status(
        openai.chat.completions.create({ model: 'gpt-abort', messages: [{ role: 'user', content: 'x' }] }),
      ),
    ).toBe('no-status');
    const notFound = await fetch(`${fake.url}/v1/models`);
    expect(notFound.status).toBe(404);
  });
});
