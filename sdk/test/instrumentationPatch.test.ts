/**
 * SpendlineInstrumentation's module patches applied to the real modules (as require-in-the-middle /
 * import-in-the-middle do on load; the load hooks themselves are covered by nodeSdkInstrumentation.test.ts):
 * clients constructed normally, never wrapped, are recorded, once.
 */
import * as bedrockModule from '@aws-sdk/client-bedrock-runtime';
import * as genaiModule from '@google/genai';
import { InstrumentationBase } from '@opentelemetry/instrumentation';
import * as openaiModule from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, SDK_TRACESTATE } from '../src/contract.js';
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

/**
 * Another GenAI instrumentation of the same method, patched the way OpenLLMetry, OpenInference and
 * `@opentelemetry/instrumentation-openai` patch it (`InstrumentationBase._wrap`, which first removes any
 * shimmer-marked wrapper it finds), recording a `chat` span around the call.
 */
class PeerInstrumentation extends InstrumentationBase {
  constructor() {
    super('peer-genai-instrumentation', '1.0.0', { enabled: false });
  }
  protected init() {
    return [];
  }
  patchChat(): void {
    const tracer = this.tracer;
    this._wrap(openaiModule.OpenAI.Chat.Completions.prototype, 'create', (original: unknown) => {
      const orig = original as (...a: unknown[]) => unknown;
      return function (this: unknown, ...args: unknown[]) {
        return tracer.startActiveSpan(
          'chat peer',
          { attributes: { 'gen_ai.operation.name': 'chat' } },
          (span) => {
            const result = orig.apply(this, args);
            if ((args[0] as { stream?: boolean }).stream !== true) {
              void Promise.resolve(result).finally(() => span.end());
              return result;
            }
            // As OpenLLMetry does for a streamed call: its own async generator instead of the client's promise.
            return (async function* () {
              try {
                for await (const chunk of (await result) as AsyncIterable<unknown>) yield chunk;
              } finally {
                span.end();
              }
            })();
          },
        );
      } as never;
    });
  }
  unpatchChat(): void {
    this._unwrap(openaiModule.OpenAI.Chat.Completions.prototype, 'create');
  }
}

describe('beside another instrumentation of the same client', () => {
  const chat = (c: openaiModule.OpenAI) =>
    c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const client = () => new openaiModule.OpenAI({ apiKey: 'k', baseURL: h.fake.openaiBaseURL, maxRetries: 0 });
  async function oneCall() {
    const before = await h.collect();
    await chat(client());
    const after = await h.collect();
    const spans = after.spans.slice(before.spans.length);
    return {
      logs: after.logs.slice(before.logs.length),
      ours: spans.filter((s) => s.name === 'chat gpt-4o-mini'),
      peer: spans.filter((s) => s.name === 'chat peer'),
    };
  }

  it('patched after ours: both record, ours is the child of its span, and its unpatch leaves ours on', async () => {
    const peer = new PeerInstrumentation();
    peer.patchChat();
    const both = await oneCall();
    expect(both.logs).toHaveLength(1);
    expect(both.ours).toHaveLength(1);
    expect(both.peer).toHaveLength(1);
    expect(both.ours[0]?.parentSpanId).toBe(both.peer[0]?.spanId);
    // Its span wraps the call ours records: marked, so the sidecar counts ours in whatever export each arrives.
    expect(both.peer[0]?.attributes[ATTR.sdkRecorded]).toBe(true);
    expect(both.ours[0]?.attributes[ATTR.sdkRecorded]).toBeUndefined();
    peer.unpatchChat();
    const alone = await oneCall();
    expect([alone.logs.length, alone.ours.length, alone.peer.length]).toEqual([1, 1, 0]);
  });

  it('patched before ours: ours is not removed and does not remove it; its span is the child of ours', async () => {
    definition('openai').unpatch(openaiModule);
    const peer = new PeerInstrumentation();
    peer.patchChat();
    definition('openai').patch(openaiModule);
    try {
      const both = await oneCall();
      expect(both.logs).toHaveLength(1);
      expect(both.ours).toHaveLength(1);
      expect(both.peer).toHaveLength(1);
      expect(both.peer[0]?.parentSpanId).toBe(both.ours[0]?.spanId);
      expect(both.peer[0]?.traceId).toBe(both.ours[0]?.traceId);
      // Made inside the call ours records: it inherits the SDK's tracestate entry naming our span (ours keeps its own).
      expect(both.peer[0]?.traceState).toBe(`${SDK_TRACESTATE.key}=${both.ours[0]?.spanId}`);
      expect(both.ours[0]?.traceState).toBe('');
      expect(both.peer[0]?.attributes[ATTR.sdkRecorded]).toBeUndefined();
      // Ours is outermost: unpatching it restores the peer's wrapper, which still records.
      definition('openai').unpatch(openaiModule);
      const peerOnly = await oneCall();
      expect([peerOnly.logs.length, peerOnly.ours.length, peerOnly.peer.length]).toEqual([0, 0, 1]);
    } finally {
      peer.unpatchChat();
      definition('openai').patch(openaiModule);
    }
  });

  it('over another instrumentation that returns its own stream: the stream is recorded exactly', async () => {
    // Ours outermost (the client wrapped by hand), the other one's prototype patch under it returning an
    // async generator for a streamed call, as OpenLLMetry does.
    definition('openai').unpatch(openaiModule);
    const peer = new PeerInstrumentation();
    peer.patchChat();
    try {
      const before = await h.collect();
      const stream = await instrumentOpenAI(client()).chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      const chunks: { choices: unknown[] }[] = [];
      for await (const c of stream) chunks.push(c);
      const after = await h.collect();
      const logs = after.logs.slice(before.logs.length);
      const spans = after.spans.slice(before.spans.length);
      expect(logs).toHaveLength(1);
      expect(logs[0]?.attributes[ATTR.usageType]).toBe('exact');
      expect(logs[0]?.attributes[ATTR.inputTokens]).toBe(11);
      expect(spans.filter((s) => s.name === 'chat peer')).toHaveLength(1);
      // The usage chunk the SDK asked for is not shown to a caller that did not ask for it.
      expect(chunks.length).toBeGreaterThan(0);
      expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
    } finally {
      peer.unpatchChat();
      definition('openai').patch(openaiModule);
    }
  });

  it('disabled under another wrapper: ours only forwards, and enabling it again does not wrap twice', async () => {
    const peer = new PeerInstrumentation();
    peer.patchChat();
    try {
      definition('openai').unpatch(openaiModule);
      const off = await oneCall();
      expect([off.logs.length, off.ours.length, off.peer.length]).toEqual([0, 0, 1]);
      definition('openai').patch(openaiModule);
      const on = await oneCall();
      expect([on.logs.length, on.ours.length, on.peer.length]).toEqual([1, 1, 1]);
    } finally {
      peer.unpatchChat();
    }
  });
});
