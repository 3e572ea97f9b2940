/**
 * SpendlineInstrumentation's module patches applied to the real modules (as require-in-the-middle /
 * import-in-the-middle do on load; the load hooks themselves are covered by nodeSdkInstrumentation.test.ts):
 * clients constructed normally, never wrapped, are recorded, once.
 */
import * as bedrockModule from '@aws-sdk/client-bedrock-runtime';
import * as genaiModule from '@google/genai';
import * as openaiModule from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import { instrumentOpenAI, SpendlineInstrumentation } from '../src/index.js';
import { type FakeBedrock, startFakeBedrock } from './support/fakeBedrock.js';
import { type FakeGemini, startFakeGemini } from './support/fakeGemini.js';
import { type Harness, startHarness } from './support/harness.js';

let h: Harness;
let gemini: FakeGemini;
let bedrock: FakeBedrock;
const inst = new SpendlineInstrumentation({ enabled: false });
const modules: [string, unknown][] = [
  ['openai', openaiModule],
  ['@google/genai', genaiModule],
  ['@aws-sdk/client-bedrock-runtime', bedrockModule],
];
function definition(name: string) {
  const d = inst.getModuleDefinitions().find((m) => m.name === name);
  if (!d?.patch || !d.unpatch) throw new Error(`no definition for ${name}`);
  return d as typeof d & { patch: (e: unknown) => unknown; unpatch: (e: unknown) => void };
}
beforeAll(async () => {
  h = await startHarness();
  gemini = await startFakeGemini({ promptTokenCount: 10, candidatesTokenCount: 5 });
  bedrock = await startFakeBedrock({ inputTokens: 9, outputTokens: 4 });
  for (const [name, exports] of modules) definition(name).patch(exports);
});
afterAll(async () => {
  for (const [name, exports] of modules) definition(name).unpatch(exports);
  await h.close();
  await gemini.close();
  await bedrock.close();
});
async function logsAfter(before: number) {
  return (await h.collect()).logs.slice(before);
}

describe('SpendlineInstrumentation patches', () => {
  it('openai: a plain client is recorded once, also when instrumented by hand as well', async () => {
    const before = (await h.collect()).logs.length;
    const plain = new openaiModule.OpenAI({ apiKey: 'k', baseURL: h.fake.openaiBaseURL, maxRetries: 0 });
    const both = instrumentOpenAI(
      new openaiModule.OpenAI({ apiKey: 'k', baseURL: h.fake.openaiBaseURL, maxRetries: 0 }),
    );
    for (const c of [plain, both])
      await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const logs = await logsAfter(before);
    expect(logs.map((l) => l.attributes[ATTR.inputTokens])).toEqual([11, 11]);
  });

  it('openai: a plain client on an OpenAI-compatible endpoint records that provider, as a wrapped one does', async () => {
    const before = (await h.collect()).logs.length;
    // Groq's real base URL; the request itself is sent to the loopback fake.
    const toFake: typeof fetch = (url, init) =>
      fetch(String(url).replace('https://api.groq.com/openai/v1', h.fake.openaiBaseURL), init);
    const options = { apiKey: 'k', baseURL: 'https://api.groq.com/openai/v1', fetch: toFake, maxRetries: 0 };
    const plain = new openaiModule.OpenAI(options);
    const wrapped = instrumentOpenAI(new openaiModule.OpenAI(options));
    for (const c of [plain, wrapped])
      await c.chat.completions.create({
        model: 'llama-3.3-70b-versatile',
        messages: [{ role: 'user', content: 'hi' }],
      });
    const logs = await logsAfter(before);
    expect(logs.map((l) => l.attributes[ATTR.providerName])).toEqual(['groq', 'groq']);
  });

  it('@google/genai and Bedrock: plain clients are recorded', async () => {
    const before = (await h.collect()).logs.length;
    const ai = new genaiModule.GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: gemini.url } });
    await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    const client = new bedrockModule.BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: bedrock.url,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    });
    await client.send(
      new bedrockModule.ConverseCommand({
        modelId: 'amazon.nova-lite-v1:0',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
    );
    client.destroy();
    const logs = await logsAfter(before);
    expect(
      logs.map((l) => [
        l.attributes[ATTR.providerName],
        l.attributes[ATTR.inputTokens],
        l.attributes[ATTR.outputTokens],
      ]),
    ).toEqual([
      ['gcp.gemini', 10, 5],
      ['aws.bedrock', 9, 4],
    ]);
  });
});
