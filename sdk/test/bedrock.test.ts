import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenCounts } from '../src/contract.js';
import { ATTR } from '../src/contract.js';
import { createPricer, instrumentBedrock, nanoToUsd } from '../src/index.js';
import { type FakeBedrock, startFakeBedrock } from './support/fakeBedrock.js';
import { type Harness, startHarness } from './support/harness.js';

const USAGE = { inputTokens: 800, outputTokens: 120, cacheReadInputTokens: 3000, cacheWriteInputTokens: 500 };
const CLAUDE = 'anthropic.claude-3-5-haiku-20241022-v1:0';
let h: Harness;
let fake: FakeBedrock;
let bedrock: BedrockRuntimeClient;
beforeAll(async () => {
  h = await startHarness();
  fake = await startFakeBedrock(USAGE);
  bedrock = instrumentBedrock(
    new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: fake.url,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
      maxAttempts: 1,
    }),
  );
});
afterAll(async () => {
  bedrock.destroy();
  await h.close();
  await fake.close();
});

// Bedrock's inputTokens exclude cache reads and writes; semconv input includes them.
const EXPECTED: TokenCounts = {
  inputTokens: 4300,
  outputTokens: 120,
  cacheReadInputTokens: 3000,
  cacheCreationInputTokens: 500,
  reasoningOutputTokens: 0,
};
function cost(model: string, t: TokenCounts): number {
  const p = createPricer().priceUsage(t, { provider: 'aws.bedrock', model });
  if (p.status !== 'priced') throw new Error(`${model} is not in the catalog`);
  return nanoToUsd(p.costNanoUsd);
}
async function newLogs(before: number) {
  return (await h.collect()).logs.slice(before);
}
const messages = [{ role: 'user' as const, content: [{ text: 'hi' }] }];

describe('@aws-sdk/client-bedrock-runtime', () => {
  it('Converse: exact tokens incl. cache read/write, the catalog price', async () => {
    const before = (await h.collect()).logs.length;
    const r = await bedrock.send(
      new ConverseCommand({
        modelId: CLAUDE,
        messages,
        toolConfig: { tools: [{ toolSpec: { name: 'f', inputSchema: { json: {} } } }] },
      }),
    );
    expect(r.output?.message?.content?.[0]?.text).toBe('Hello from fake Bedrock.');
    const logs = await newLogs(before);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.attributes).toMatchObject({
      [ATTR.operationName]: 'chat',
      [ATTR.providerName]: 'aws.bedrock',
      [ATTR.requestModel]: CLAUDE,
      [ATTR.inputTokens]: 4300,
      [ATTR.outputTokens]: 120,
      [ATTR.cacheReadInputTokens]: 3000,
      [ATTR.cacheCreationInputTokens]: 500,
      [ATTR.usageType]: 'exact',
      [ATTR.costUsd]: cost(CLAUDE, EXPECTED),
      [ATTR.requestTools]: true,
    });
  });

  it('ConverseStream: AWS event-stream framing, one record from the metadata event', async () => {
    const before = (await h.collect()).logs.length;
    const r = await bedrock.send(new ConverseStreamCommand({ modelId: CLAUDE, messages }));
    let text = '';
    for await (const e of r.stream ?? []) text += e.contentBlockDelta?.delta?.text ?? '';
    expect(text).toBe('Hello from fake Bedrock.');
    const logs = await newLogs(before);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.attributes).toMatchObject({
      [ATTR.inputTokens]: 4300,
      [ATTR.outputTokens]: 120,
      [ATTR.cacheReadInputTokens]: 3000,
      [ATTR.cacheCreationInputTokens]: 500,
      [ATTR.usageType]: 'exact',
      [ATTR.costUsd]: cost(CLAUDE, EXPECTED),
    });
    expect(typeof logs[0]?.attributes[ATTR.ttftMs]).toBe('number');
  });

  it('InvokeModel: Anthropic messages, Titan and Cohere embeddings', async () => {
    const before = (await h.collect()).logs.length;
    const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
    const claude = await bedrock.send(
      new InvokeModelCommand({
        modelId: CLAUDE,
        contentType: 'application/json',
        body: enc({
          anthropic_version: 'bedrock-2023-05-31',
          max_tokens: 64,
          messages: [{ role: 'user', content: 'hi' }],
        }),
      }),
    );
    expect(JSON.parse(new TextDecoder().decode(claude.body)).content[0].text).toBe(
      'Hello from fake Bedrock.',
    );
    await bedrock.send(
      new InvokeModelCommand({ modelId: 'amazon.titan-embed-text-v1', body: enc({ inputText: 'hello' }) }),
    );
    await bedrock.send(
      new InvokeModelCommand({
        modelId: 'cohere.embed-english-v3',
        body: enc({ texts: ['a', 'b', 'c'], input_type: 'search_document' }),
      }),
    );
    const [c, titan, cohere, ...rest] = await newLogs(before);
    expect(rest).toHaveLength(0);
    expect(c?.attributes).toMatchObject({
      [ATTR.operationName]: 'chat',
      [ATTR.inputTokens]: 4300,
      [ATTR.cacheReadInputTokens]: 3000,
      [ATTR.cacheCreationInputTokens]: 500,
      [ATTR.costUsd]: cost(CLAUDE, EXPECTED),
    });
    expect(titan?.attributes).toMatchObject({
      [ATTR.operationName]: 'embeddings',
      [ATTR.serviceType]: 'embedding',
      [ATTR.inputTokens]: 800,
      [ATTR.embeddingInputs]: 1,
      [ATTR.usageType]: 'exact',
      [ATTR.costUsd]: cost('amazon.titan-embed-text-v1', {
        ...EXPECTED,
        inputTokens: 800,
        outputTokens: 0,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
      }),
    });
    // Cohere's body has no usage: the token-count header is the exact figure.
    expect(cohere?.attributes).toMatchObject({
      [ATTR.operationName]: 'embeddings',
      [ATTR.inputTokens]: 800,
      [ATTR.embeddingInputs]: 3,
      [ATTR.usageType]: 'exact',
    });
    // Not in the catalog: no price rather than $0.
    expect(cohere?.attributes[ATTR.costUsd]).toBeUndefined();
  });

  it('InvokeModelWithResponseStream (Anthropic): one exact record from the model’s own stream events', async () => {
    const before = (await h.collect()).logs.length;
    const r = await bedrock.send(
      new InvokeModelWithResponseStreamCommand({
        modelId: CLAUDE,
        contentType: 'application/json',
        body: new TextEncoder().encode(
          JSON.stringify({
            anthropic_version: 'bedrock-2023-05-31',
            max_tokens: 64,
            messages: [{ role: 'user', content: 'hi' }],
          }),
        ),
      }),
    );
    let text = '';
    for await (const e of r.body ?? []) {
      const ev = JSON.parse(new TextDecoder().decode(e.chunk?.bytes));
      if (ev.type === 'content_block_delta') text += ev.delta.text;
    }
    expect(text).toBe('Hello from fake Bedrock.');
    const logs = await newLogs(before);
    expect(logs).toHaveLength(1);
    expect(logs[0]?.attributes).toMatchObject({
      [ATTR.operationName]: 'chat',
      [ATTR.inputTokens]: 4300,
      [ATTR.outputTokens]: 120,
      [ATTR.cacheReadInputTokens]: 3000,
      [ATTR.cacheCreationInputTokens]: 500,
      [ATTR.usageType]: 'exact',
      [ATTR.costUsd]: cost(CLAUDE, EXPECTED),
    });
    expect(typeof logs[0]?.attributes[ATTR.ttftMs]).toBe('number');
  });
});
