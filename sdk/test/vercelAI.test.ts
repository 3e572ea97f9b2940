import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool, wrapLanguageModel } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ATTR, type TokenCounts } from '../src/contract.js';
import { createPricer, nanoToUsd, spendlineMiddleware } from '../src/index.js';
import { type Harness, startHarness } from './support/harness.js';

const MODEL = 'o4-mini';
let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    models: {
      // @ai-sdk/openai 4 reports cache_write_tokens as usage.inputTokens.cacheWrite (3 did not read it).
      [MODEL]: {
        usage: {
          inputTokens: 100,
          outputTokens: 40,
          cachedTokens: 60,
          cacheCreationTokens: 30,
          reasoningTokens: 25,
        },
      },
    },
  });
});
afterAll(async () => {
  await h.close();
});

const EXPECTED: TokenCounts = {
  inputTokens: 100,
  outputTokens: 40,
  cacheReadInputTokens: 60,
  cacheCreationInputTokens: 30,
  reasoningOutputTokens: 25,
};
function cost(): number {
  const p = createPricer().priceUsage(EXPECTED, { provider: 'openai', model: MODEL });
  if (p.status !== 'priced') throw new Error(`${MODEL} is not in the catalog`);
  return nanoToUsd(p.costNanoUsd);
}
function model() {
  const openai = createOpenAI({ baseURL: h.fake.openaiBaseURL, apiKey: 'sk-test' });
  return wrapLanguageModel({ model: openai.chat(MODEL), middleware: spendlineMiddleware() });
}
const exact = () => ({
  [ATTR.operationName]: 'chat',
  [ATTR.providerName]: 'openai',
  [ATTR.requestModel]: MODEL,
  [ATTR.inputTokens]: 100,
  [ATTR.outputTokens]: 40,
  [ATTR.cacheReadInputTokens]: 60,
  [ATTR.cacheCreationInputTokens]: 30,
  [ATTR.reasoningOutputTokens]: 25,
  [ATTR.usageType]: 'exact',
  [ATTR.costUsd]: cost(),
});

describe('Vercel AI SDK middleware', () => {
  it('generateText: one exact record per step of a multi-step tool loop', async () => {
    const before = (await h.collect()).logs.length;
    let executed = 0;
    const r = await generateText({
      model: model(),
      prompt: 'find something',
      tools: {
        search: tool({
          description: 'search',
          inputSchema: z.object({}).passthrough(),
          execute: async () => {
            executed++;
            return 'result';
          },
        }),
      },
      stopWhen: stepCountIs(2),
    });
    expect(r.steps).toHaveLength(2);
    expect(executed).toBe(2);
    const logs = (await h.collect()).logs.slice(before);
    expect(logs).toHaveLength(2);
    for (const l of logs) expect(l.attributes).toMatchObject({ ...exact(), [ATTR.requestTools]: true });
    // The SDK's own total is the sum of the steps, which is what the two records add up to.
    expect(r.totalUsage.inputTokens).toBe(200);
  });

  it('streamText: one exact record with a time to first token', async () => {
    const before = (await h.collect()).logs.length;
    const r = streamText({ model: model(), prompt: 'hi' });
    let text = '';
    for await (const t of r.textStream) text += t;
    expect(text).toBe('Hello from the spendline fake provider.');
    const logs = (await h.collect()).logs.slice(before);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.attributes).toMatchObject(exact());
    expect(typeof logs[0]?.attributes[ATTR.ttftMs]).toBe('number');
  });
});
