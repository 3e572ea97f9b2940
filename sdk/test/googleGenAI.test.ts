import { GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import { createPricer, instrumentGoogleGenAI, nanoToUsd } from '../src/index.js';
import { type FakeGemini, startFakeGemini } from './support/fakeGemini.js';
import { type Harness, startHarness } from './support/harness.js';

const USAGE = {
  promptTokenCount: 1200,
  candidatesTokenCount: 300,
  cachedContentTokenCount: 1000,
  thoughtsTokenCount: 150,
};
// A long answer in two continuation hops, each billed as its own request.
const HOPS = [
  { promptTokenCount: 800, candidatesTokenCount: 4000, thoughtsTokenCount: 500 },
  { promptTokenCount: 5300, candidatesTokenCount: 1200, cachedContentTokenCount: 4096 },
];
let h: Harness;
let gemini: FakeGemini;
let ai: GoogleGenAI;
beforeAll(async () => {
  h = await startHarness();
  gemini = await startFakeGemini(USAGE, { 'gemini-3-pro': HOPS });
  ai = instrumentGoogleGenAI(new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: gemini.url } }));
});
afterAll(async () => {
  await h.close();
  await gemini.close();
});

// Semconv: input includes cached content; output includes thoughts (Gemini counts them apart from candidates).
const EXPECTED = {
  inputTokens: 1200,
  outputTokens: 450,
  cacheReadInputTokens: 1000,
  cacheCreationInputTokens: 0,
  reasoningOutputTokens: 150,
};
function expectedCost(): number {
  const p = createPricer().priceUsage(EXPECTED, { provider: 'gcp.gemini', model: 'gemini-2.5-flash' });
  if (p.status !== 'priced') throw new Error('gemini-2.5-flash is not in the catalog');
  return nanoToUsd(p.costNanoUsd);
}

async function newLogs(before: number) {
  return (await h.collect()).logs.slice(before);
}

describe('@google/genai (Gemini Developer API)', () => {
  it('generateContent: exact tokens by type (cached content, thinking) and the catalog price', async () => {
    const before = (await h.collect()).logs.length;
    const r = await ai.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'hi',
      config: { tools: [{ googleSearch: {} }], responseMimeType: 'application/json' },
    });
    expect(r.text).toBe('Hello from the fake Gemini.');
    const [log, ...rest] = await newLogs(before);
    expect(rest).toHaveLength(0);
    expect(log?.attributes).toMatchObject({
      [ATTR.operationName]: 'generate_content',
      [ATTR.providerName]: 'gcp.gemini',
      [ATTR.requestModel]: 'gemini-2.5-flash',
      [ATTR.responseModel]: 'gemini-2.5-flash',
      [ATTR.inputTokens]: 1200,
      [ATTR.outputTokens]: 450,
      [ATTR.cacheReadInputTokens]: 1000,
      [ATTR.reasoningOutputTokens]: 150,
      [ATTR.usageType]: 'exact',
      [ATTR.costUsd]: expectedCost(),
      [ATTR.requestSearchGrounding]: true,
      [ATTR.requestStructuredOutput]: true,
    });
  });

  it('generateContentStream: one record with the final chunk’s usage and a time to first token', async () => {
    const before = (await h.collect()).logs.length;
    let text = '';
    for await (const chunk of await ai.models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'hi',
    }))
      text += chunk.text ?? '';
    expect(text).toBe('Hello from the fake Gemini.');
    const logs = await newLogs(before);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.attributes).toMatchObject({
      [ATTR.inputTokens]: 1200,
      [ATTR.outputTokens]: 450,
      [ATTR.cacheReadInputTokens]: 1000,
      [ATTR.reasoningOutputTokens]: 150,
      [ATTR.usageType]: 'exact',
      [ATTR.costUsd]: expectedCost(),
    });
    expect(typeof logs[0]?.attributes[ATTR.ttftMs]).toBe('number');
  });

  it('automatic continuation (@google/genai 3): one exact record per hop, streaming or not', async () => {
    const expected = [
      { [ATTR.inputTokens]: 800, [ATTR.outputTokens]: 4500, [ATTR.reasoningOutputTokens]: 500 },
      { [ATTR.inputTokens]: 5300, [ATTR.outputTokens]: 1200, [ATTR.cacheReadInputTokens]: 4096 },
    ];
    const before = (await h.collect()).logs.length;
    const r = await ai.models.generateContent({ model: 'gemini-3-pro', contents: 'write a lot' });
    // The client merges the hops for the caller: their usage summed.
    expect(r.usageMetadata?.candidatesTokenCount).toBe(5200);
    let chunks = 0;
    for await (const _ of await ai.models.generateContentStream({ model: 'gemini-3-pro', contents: 'again' }))
      chunks++;
    expect(chunks).toBe(8);
    const sent = gemini.requests
      .slice(-4)
      .map((q) => (q.body as { continuationToken?: string }).continuationToken);
    expect(sent).toEqual([undefined, 'hop-1', undefined, 'hop-1']);
    const logs = await newLogs(before);
    expect(logs.map((l) => l.attributes)).toMatchObject([...expected, ...expected]);
    for (const l of logs) expect(l.attributes[ATTR.usageType]).toBe('exact');
  });

  it('embedContent: the Gemini API reports no usage, so the input is estimated (never $0 by omission)', async () => {
    const before = (await h.collect()).logs.length;
    const r = await ai.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['alpha beta', 'gamma'],
    });
    expect(r.embeddings).toHaveLength(2);
    const logs = await newLogs(before);
    expect(logs).toHaveLength(1);
    const a = logs[0]?.attributes ?? {};
    expect(a).toMatchObject({
      [ATTR.operationName]: 'embeddings',
      [ATTR.providerName]: 'gcp.gemini',
      [ATTR.embeddingInputs]: 2,
      [ATTR.usageType]: 'estimated',
    });
    expect(a[ATTR.inputTokens]).toBeGreaterThan(0);
    expect(typeof a[ATTR.costUsd]).toBe('number');
  });
});
