/**
 * One provider table for the sidecar and the SDK: emitter provider names and OpenAI-compatible
 * endpoints resolve to the provider that bills the call, and `instrumentOpenAI` records a client
 * pointed at another OpenAI-compatible endpoint as that provider (real client, real HTTP to the fake).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import { instrumentOpenAI, resolveProviderName, SEMCONV_PROVIDER_TO_CATALOG } from '../src/index.js';
import { findCatalogProvider } from '../src/pricing/providers.js';
import { type Harness, startHarness } from './support/harness.js';

describe('resolveProviderName', () => {
  it('maps emitter provider names to the provider that bills the call', () => {
    const cases: [string, string][] = [
      ['openai', 'openai'],
      ['openai.chat', 'openai'],
      ['openai.responses', 'openai'],
      ['openai.embedding', 'openai'],
      ['OpenAI', 'openai'],
      ['azure.ai.openai', 'azure.ai.openai'],
      ['az.ai.inference', 'azure.ai.inference'],
      ['azure.chat', 'azure.ai.openai'],
      ['aws.bedrock', 'aws.bedrock'],
      ['amazon-bedrock', 'aws.bedrock'],
      ['gcp.vertex_ai', 'gcp.vertex_ai'],
      ['google.vertex.chat', 'gcp.vertex_ai'],
      ['gcp.gemini', 'gcp.gemini'],
      ['google.generative-ai', 'gcp.gemini'],
      ['anthropic', 'anthropic'],
      ['anthropic.messages', 'anthropic'],
      ['groq.chat', 'groq'],
      ['mistral', 'mistral_ai'],
      ['xai.chat', 'x_ai'],
      ['togetherai.chat', 'together'],
      ['acme-llm', 'acme-llm'],
      ['', ''],
    ];
    for (const [name, want] of cases) expect(resolveProviderName(name), name).toBe(want);
  });

  it('lets the endpoint name the provider of an OpenAI-compatible client', () => {
    const cases: [string, string, number | undefined, string][] = [
      ['openai', 'my-resource.openai.azure.com', 443, 'azure.ai.openai'],
      ['openai', 'https://my-resource.openai.azure.com/openai/v1', undefined, 'azure.ai.openai'],
      ['openai', 'https://api.groq.com/openai/v1', undefined, 'groq'],
      ['openai', 'api.deepseek.com', undefined, 'deepseek'],
      ['openai', 'https://api.together.xyz/v1', undefined, 'together'],
      ['openai', 'https://api.mistral.ai/v1', undefined, 'mistral_ai'],
      ['openai', 'https://openrouter.ai/api/v1', undefined, 'openrouter'],
      ['openai', 'http://localhost:11434/v1', undefined, 'ollama'],
      ['openai', '127.0.0.1', 8000, 'vllm'],
      ['openai', '127.0.0.1', 43123, 'openai'],
      ['openai', 'api.openai.com', 443, 'openai'],
      ['', 'api.groq.com', undefined, 'groq'],
      // A named non-OpenAI provider keeps its name whatever the endpoint.
      ['anthropic', 'api.groq.com', undefined, 'anthropic'],
    ];
    for (const [name, address, port, want] of cases)
      expect(resolveProviderName(name, address, port), `${name} @ ${address}:${port}`).toBe(want);
  });

  it('names Java and older Python emitters by the provider that bills them, and Vertex AI by its regional endpoints', () => {
    // Spring AI AiProvider (spring-ai-commons), OpenLLMetry <= 0.54 _get_vendor_from_url ("AWS").
    expect(resolveProviderName('azure-openai')).toBe('azure.ai.openai');
    expect(resolveProviderName('bedrock_converse')).toBe('aws.bedrock');
    expect(resolveProviderName('AWS')).toBe('aws.bedrock');
    // opentelemetry-instrumentation-vertexai (latest semconv) reports only server.address.
    expect(resolveProviderName('', 'us-central1-aiplatform.googleapis.com', 443)).toBe('gcp.vertex_ai');
    expect(resolveProviderName('', 'aiplatform.googleapis.com')).toBe('gcp.vertex_ai');
    expect(
      resolveProviderName('openai', 'https://europe-west4-aiplatform.googleapis.com/v1/projects/p'),
    ).toBe('gcp.vertex_ai');
    expect(resolveProviderName('', 'notaiplatform.googleapis.com')).toBe('');
  });

  it('resolves to providers the price catalog knows (local servers stay unpriced, never $0)', () => {
    const resolved = [
      ['openai', ''],
      ['azure', ''],
      ['az.ai.inference', ''],
      ['bedrock', ''],
      ['vertex', ''],
      ['gemini', ''],
      ['anthropic', ''],
      ['mistral', ''],
      ['cohere', ''],
      ['groq', ''],
      ['deepseek', ''],
      ['xai', ''],
      ['openai', 'https://api.together.xyz/v1'],
      ['openai', 'https://openrouter.ai/api/v1'],
      ['perplexity', ''],
      ['fireworks', ''],
      ['cerebras', ''],
      ['moonshotai', ''],
    ].map(([name, address]) => resolveProviderName(name as string, address));
    const catalog = Object.fromEntries(resolved.map((p) => [p, findCatalogProvider(p)?.id]));
    expect(catalog).toEqual({
      openai: 'openai',
      'azure.ai.openai': 'azure',
      'azure.ai.inference': 'azure',
      'aws.bedrock': 'aws',
      'gcp.vertex_ai': 'google',
      'gcp.gemini': 'google',
      anthropic: 'anthropic',
      mistral_ai: 'mistral',
      cohere: 'cohere',
      groq: 'groq',
      deepseek: 'deepseek',
      x_ai: 'x-ai',
      together: 'together',
      openrouter: 'openrouter',
      perplexity: 'perplexity',
      fireworks: 'fireworks',
      cerebras: 'cerebras',
      moonshot_ai: 'moonshotai',
    });
    expect(findCatalogProvider(resolveProviderName('openai', 'http://localhost:11434/v1'))).toBeUndefined();
    expect(SEMCONV_PROVIDER_TO_CATALOG['azure.ai.inference']).toBe('azure');
  });
});

describe('instrumentOpenAI on an OpenAI-compatible endpoint', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ models: { 'llama-3.3-70b': { usage: { inputTokens: 12, outputTokens: 4 } } } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('records a Groq client as groq and an Azure OpenAI client as azure.ai.openai', async () => {
    // The real client with its real baseURL; its fetch is routed to the loopback fake provider.
    const routed = (base: string) =>
      instrumentOpenAI(
        new OpenAI({
          apiKey: 'sk-test',
          baseURL: base,
          maxRetries: 0,
          fetch: (url, init) => fetch(String(url).replace(base, h.fake.openaiBaseURL), init),
        }),
      );
    const before = (await h.collect()).logs.length;
    for (const base of ['https://api.groq.com/openai/v1', 'https://my-res.openai.azure.com/openai/v1']) {
      await routed(base).chat.completions.create({
        model: 'llama-3.3-70b',
        messages: [{ role: 'user', content: 'hi' }],
      });
    }
    const logs = (await h.collect()).logs.slice(before);
    expect(logs.map((l) => [l.attributes[ATTR.providerName], l.attributes[ATTR.inputTokens]])).toEqual([
      ['groq', 12],
      ['azure.ai.openai', 12],
    ]);
    expect(h.fake.requests.filter((r) => r.path === '/v1/chat/completions')).toHaveLength(2);
  });
});
