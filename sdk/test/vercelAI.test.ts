import { createOpenAI } from '@ai-sdk/openai';
import { OpenTelemetry } from '@ai-sdk/otel';
import { generateText, registerTelemetry, stepCountIs, streamText, tool, wrapLanguageModel } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeOtlpJsonLine } from '../../sidecar/src/decode/index.js';
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

/** OTLP/JSON export lines with every span in a line of its own (as a batch cut between spans exports them). */
function oneSpanPerLine(bodies: unknown[]): string[] {
  type Json = Record<string, unknown>;
  const list = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
  const out: string[] = [];
  for (const body of bodies) {
    const doc = body as Json;
    if (!Array.isArray(doc.resourceSpans)) {
      out.push(JSON.stringify(doc));
      continue;
    }
    for (const rs of list(doc.resourceSpans))
      for (const ss of list(rs.scopeSpans))
        for (const span of list(ss.spans))
          out.push(JSON.stringify({ resourceSpans: [{ ...rs, scopeSpans: [{ ...ss, spans: [span] }] }] }));
  }
  return out;
}

// Last in this file: registerTelemetry turns the AI SDK's tracing on for every later call that asks for it.
describe('Vercel AI SDK middleware beside the AI SDK’s own telemetry (`@ai-sdk/otel`)', () => {
  it('marks the AI SDK’s span of each call, so the sidecar counts each call once in any export', async () => {
    registerTelemetry(new OpenTelemetry());
    const before = await h.collect();
    const bodies = { logs: h.receiver.bodies.logs.length, traces: h.receiver.bodies.traces.length };
    await generateText({ model: model(), prompt: 'hi', experimental_telemetry: { isEnabled: true } });
    const s = streamText({ model: model(), prompt: 'hi', experimental_telemetry: { isEnabled: true } });
    for await (const _ of s.textStream);
    await s.usage;
    const after = await h.collect();
    expect(after.logs.length - before.logs.length).toBe(2);
    const spans = after.spans.slice(before.spans.length);
    // The AI SDK's inference span of each call (its own `chat {model}`, with the usage it saw) wraps ours.
    const theirs = spans.filter(
      (x) => x.name === `chat ${MODEL}` && x.attributes[ATTR.usageId] === undefined,
    );
    expect(theirs, JSON.stringify(spans.map((x) => x.name))).toHaveLength(2);
    for (const t of theirs) expect(t.attributes[ATTR.sdkRecorded]).toBe(true);

    const lines = oneSpanPerLine([
      ...h.receiver.bodies.logs.slice(bodies.logs),
      ...h.receiver.bodies.traces.slice(bodies.traces),
    ]);
    const counted = new Set<string>();
    for (const line of lines) for (const r of decodeOtlpJsonLine(line).records) counted.add(r.dedupKey);
    expect(counted.size).toBe(2);
  });
});
