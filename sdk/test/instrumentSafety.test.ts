import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentAnthropic, instrumentOpenAI } from '../src/index.js';
import { type Harness, startHarness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('instrumentation never harms the host', () => {
  it('returns the very same client, and instrumenting twice records once', async () => {
    const client = new OpenAI({ apiKey: 'k', baseURL: h.fake.openaiBaseURL, maxRetries: 0 });
    expect(instrumentOpenAI(client)).toBe(client);
    expect(instrumentOpenAI(client)).toBe(client);
    const before = (await h.collect()).logs.length;
    await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect((await h.collect()).logs.length).toBe(before + 1);
  });

  it('leaves other clients of the same class uninstrumented', async () => {
    const other = new OpenAI({ apiKey: 'k', baseURL: h.fake.openaiBaseURL, maxRetries: 0 });
    const before = (await h.collect()).logs.length;
    await other.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    expect((await h.collect()).logs.length).toBe(before);
  });

  it('accepts objects of unexpected shape without throwing', () => {
    const odd = { chat: null, responses: 3, messages: { create: 'not a function' } };
    expect(instrumentOpenAI(odd)).toBe(odd);
    expect(instrumentAnthropic(odd)).toBe(odd);
  });

  it('passes calls without a model straight through, errors unchanged', async () => {
    const before = (await h.collect()).logs.length;
    const err = await h.openai.chat.completions
      .create({ messages: [{ role: 'user', content: 'x' }] } as unknown as Parameters<
        typeof h.openai.chat.completions.create
      >[0])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((await h.collect()).logs.length).toBe(before);
  });

  it('does not record a stream twice when the caller tees it', async () => {
    const before = (await h.collect()).logs.length;
    const stream = await h.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    const [left, right] = stream.tee();
    let l = 0;
    let r = 0;
    for await (const _ of left) l++;
    for await (const _ of right) r++;
    expect([l, r]).toEqual([8, 8]);
    expect((await h.collect()).logs.length).toBe(before + 1);
  });
});
