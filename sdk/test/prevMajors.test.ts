/**
 * The previous major of every instrumented client (openai 6, @anthropic-ai/sdk 0.x, @google/genai 2,
 * ai 6 with @ai-sdk/openai 3) keeps working: a service run from test/compat/prev-majors (an npm
 * workspace that installs those versions for itself), as an ES module and as CommonJS, is recorded
 * through the real SpendlineInstrumentation, against the same loopback fakes, with exact tokens by
 * type and prices.
 * The current majors are the SDK's own dev dependencies, under test everywhere else.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, type TokenCounts, USAGE_EVENT_NAME } from '../src/contract.js';
import { createPricer, nanoToUsd } from '../src/index.js';
import { type FakeProvider, startFakeProvider } from '../src/testing/index.js';
import { type FakeGemini, startFakeGemini } from './support/fakeGemini.js';
import { type CapturedLog, startOtlpReceiver } from './support/otlpReceiver.js';

const APP_DIR = fileURLToPath(new URL('../../test/compat/prev-majors/', import.meta.url));
const TELEMETRY = fileURLToPath(new URL('./apps/service-telemetry.mjs', import.meta.url));

const tokens = (t: Partial<TokenCounts> & { inputTokens: number; outputTokens: number }): TokenCounts => ({
  cacheReadInputTokens: 0,
  cacheCreationInputTokens: 0,
  reasoningOutputTokens: 0,
  ...t,
});
const GEMINI = tokens({
  inputTokens: 1200,
  outputTokens: 450,
  cacheReadInputTokens: 1000,
  reasoningOutputTokens: 150,
});

/** requestModel → [provider, the tokens each of its records must carry, how many records]. */
const EXPECTED: Record<string, [string, TokenCounts, number]> = {
  // openai 6 passes cache_write_tokens through untyped; the instrumentation reads it all the same.
  'gpt-4.1': [
    'openai',
    tokens({
      inputTokens: 3000,
      outputTokens: 50,
      cacheReadInputTokens: 1024,
      cacheCreationInputTokens: 1500,
    }),
    1,
  ],
  // chat.completions.create (streaming) and parse().
  'gpt-4.1-mini': ['openai', tokens({ inputTokens: 200, outputTokens: 30, cacheReadInputTokens: 128 }), 2],
  // responses.create (streaming) and responses.stream().
  'gpt-5-mini': [
    'openai',
    tokens({ inputTokens: 500, outputTokens: 260, cacheReadInputTokens: 256, reasoningOutputTokens: 200 }),
    2,
  ],
  'text-embedding-3-small': ['openai', tokens({ inputTokens: 9, outputTokens: 0 }), 1],
  'claude-opus-4-5': [
    'anthropic',
    tokens({ inputTokens: 120, outputTokens: 900, reasoningOutputTokens: 700 }),
    1,
  ],
  'claude-sonnet-4-5': [
    'anthropic',
    tokens({
      inputTokens: 2000,
      outputTokens: 150,
      cacheReadInputTokens: 1500,
      cacheCreationInputTokens: 300,
    }),
    1,
  ],
  'gemini-2.5-flash': ['gcp.gemini', GEMINI, 1],
  'gemini-2.5-pro': ['gcp.gemini', GEMINI, 1],
  // generateText and streamText through the middleware.
  'o4-mini': [
    'openai',
    tokens({ inputTokens: 100, outputTokens: 40, cacheReadInputTokens: 60, reasoningOutputTokens: 25 }),
    2,
  ],
};

const fakeUsage = (t: TokenCounts) => ({
  inputTokens: t.inputTokens,
  outputTokens: t.outputTokens,
  cachedTokens: t.cacheReadInputTokens,
  cacheCreationTokens: t.cacheCreationInputTokens,
  reasoningTokens: t.reasoningOutputTokens,
});

let fake: FakeProvider;
let gemini: FakeGemini;
beforeAll(async () => {
  const models: Record<string, { usage: ReturnType<typeof fakeUsage> }> = {};
  for (const [model, [provider, t]] of Object.entries(EXPECTED))
    if (provider !== 'gcp.gemini') models[model] = { usage: fakeUsage(t) };
  fake = await startFakeProvider({ models });
  gemini = await startFakeGemini({
    promptTokenCount: 1200,
    candidatesTokenCount: 300,
    cachedContentTokenCount: 1000,
    thoughtsTokenCount: 150,
  });
});
afterAll(async () => {
  await fake?.close();
  await gemini?.close();
});

interface AppRun {
  versions: Record<string, string>;
  seen: Record<string, unknown>;
  logs: CapturedLog[];
}

/** Runs one app of the workspace under the service's own NodeSDK; returns its output and its usage records. */
async function runApp(app: string): Promise<AppRun> {
  const receiver = await startOtlpReceiver();
  try {
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', TELEMETRY, app], {
        cwd: APP_DIR,
        env: {
          PATH: process.env.PATH,
          FAKE_URL: fake.url,
          GEMINI_URL: gemini.url,
          RECEIVER_URL: receiver.url,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (b: Buffer) => {
        text += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        text += b.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('error', reject);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve({ code: exitCode, out: text });
      });
    });
    expect(code, out).toBe(0);
    const line = out.split('\n').find((l) => l.startsWith('{"versions"'));
    expect(line, out).toBeDefined();
    const parsed = JSON.parse(line as string) as Omit<AppRun, 'logs'>;
    return { ...parsed, logs: receiver.logs().filter((l) => l.eventName === USAGE_EVENT_NAME) };
  } finally {
    await receiver.close();
  }
}

const majors = (versions: Record<string, string>) =>
  Object.fromEntries(Object.entries(versions).map(([k, v]) => [k, v?.split('.')[0]]));

/** Each model's records: exactly `count` of them, with the expected tokens by type and the catalog price. */
function expectExact(logs: CapturedLog[], expected: Record<string, [string, TokenCounts, number]>): void {
  const pricer = createPricer();
  for (const [model, [provider, t, count]] of Object.entries(expected)) {
    const recs = logs.filter((l) => l.attributes[ATTR.requestModel] === model);
    expect(recs, model).toHaveLength(count);
    const p = pricer.priceUsage(t, { provider, model });
    if (p.status !== 'priced') throw new Error(`${provider}/${model} is not in the catalog`);
    for (const r of recs) {
      expect(r.attributes, model).toMatchObject({
        [ATTR.providerName]: provider,
        [ATTR.inputTokens]: t.inputTokens,
        [ATTR.outputTokens]: t.outputTokens,
        [ATTR.usageType]: 'exact',
        [ATTR.costUsd]: nanoToUsd(p.costNanoUsd),
      });
      // Zero counts are left off the record.
      const optional = (v: number) => (v > 0 ? v : undefined);
      expect(r.attributes[ATTR.cacheReadInputTokens], model).toBe(optional(t.cacheReadInputTokens));
      expect(r.attributes[ATTR.cacheCreationInputTokens], model).toBe(optional(t.cacheCreationInputTokens));
      expect(r.attributes[ATTR.reasoningOutputTokens], model).toBe(optional(t.reasoningOutputTokens));
      expect(r.attributes[ATTR.errorType], model).toBeUndefined();
    }
  }
}

const REPLY = 'Hello from the spendline fake provider.';

describe('previous majors of the instrumented clients', () => {
  it('ES module: openai 6, @anthropic-ai/sdk 0.x, @google/genai 2 and ai 6, exact tokens by type and cost, streaming, helpers and a failed call', async () => {
    const { versions, seen, logs } = await runApp('app.mjs');
    // The app ran the previous majors, not the SDK's own (current) dev dependencies.
    expect(majors(versions)).toEqual({
      openai: '6',
      '@anthropic-ai/sdk': '0',
      '@google/genai': '2',
      ai: '6',
      '@ai-sdk/openai': '3',
    });
    expect(seen).toEqual({
      chat: REPLY,
      chatStream: REPLY,
      responsesStream: REPLY,
      parse: REPLY,
      responsesHelper: REPLY,
      embeddings: 2,
      failed: 500,
      anthropic: REPLY,
      anthropicStream: REPLY,
      gemini: 'Hello from the fake Gemini.',
      geminiStream: 'Hello from the fake Gemini.',
      aiGenerate: REPLY,
      aiStream: REPLY,
    });
    expectExact(logs, EXPECTED);
    const failed = logs.filter((l) => l.attributes[ATTR.requestModel] === 'gpt-4o-mini');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.attributes[ATTR.errorType]).toBe('500');
    expect(logs).toHaveLength(13);
  }, 90_000);

  it('CommonJS: openai 6, @anthropic-ai/sdk 0.x and @google/genai 2 through require', async () => {
    const { versions, seen, logs } = await runApp('app.cjs');
    expect(majors(versions)).toEqual({ openai: '6', '@anthropic-ai/sdk': '0', '@google/genai': '2' });
    expect(seen).toEqual({ chat: REPLY, anthropicStream: REPLY, gemini: 'Hello from the fake Gemini.' });
    const pick = (...models: string[]) =>
      Object.fromEntries(models.map((m) => [m, EXPECTED[m] as [string, TokenCounts, number]]));
    expectExact(logs, pick('gpt-4.1', 'claude-sonnet-4-5', 'gemini-2.5-flash'));
    expect(logs).toHaveLength(3);
  }, 90_000);
});
