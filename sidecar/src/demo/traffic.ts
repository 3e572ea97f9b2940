/**
 * Demo traffic: real `openai` and `@anthropic-ai/sdk` clients, instrumented by `@spendline/sdk`,
 * calling the SDK's loopback fake provider. Several models, streaming, embeddings, OCR, errors, users
 * and features, from a seeded generator so two runs send the same calls.
 */
import Anthropic from '@anthropic-ai/sdk';
import {
  instrumentAnthropic,
  instrumentOpenAI,
  recordOCRUsage,
  startTelemetry,
  type TelemetryHandle,
  withUsageContext,
} from '@spendline/sdk';
import { FAKE_ERROR_HEADER, type FakeModelBehaviour, startFakeProvider } from '@spendline/sdk/testing';
import OpenAI from 'openai';

export interface DemoOptions {
  /** OTLP/HTTP base URL the SDK exports to. */
  endpoint: string;
  requests: number;
  /** Calls per second (0: as fast as possible). */
  rate: number;
  seed: number;
  serviceName: string;
  log?: (line: string) => void;
}

export interface DemoSummary {
  calls: number;
  errors: number;
  /** Calls attempted, failed ones included. */
  streamed: number;
  embeddings: number;
  ocrJobs: number;
  byModel: Record<string, number>;
  telemetry: ReturnType<TelemetryHandle['stats']>;
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const FEATURES = ['support-chat', 'summarise', 'search', 'invoice-ocr', 'code-review'];
const TENANTS = ['acme', 'globex'];

/** Usage the fake provider reports per model (semconv terms: input includes cache, output includes reasoning). */
export const DEMO_MODELS: Record<string, FakeModelBehaviour> = {
  'gpt-4o-mini': { usage: { inputTokens: 850, outputTokens: 120, cachedTokens: 0 } },
  'gpt-4o': {
    usage: { inputTokens: 2400, outputTokens: 380, cachedTokens: 1024 },
    responseModel: 'gpt-4o-2024-08-06',
  },
  'o3-mini': { usage: { inputTokens: 1200, outputTokens: 900, reasoningTokens: 640 } },
  'claude-sonnet-4-6': {
    usage: { inputTokens: 5200, outputTokens: 410, cachedTokens: 4096, cacheCreationTokens: 512 },
  },
  'claude-haiku-4-5': { usage: { inputTokens: 700, outputTokens: 90 } },
  'text-embedding-3-small': { usage: { inputTokens: 320, outputTokens: 0 } },
};

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const log = options.log ?? (() => {});
  const provider = await startFakeProvider({ models: DEMO_MODELS });
  const telemetry = startTelemetry({
    endpoint: options.endpoint,
    serviceName: options.serviceName,
    scheduledDelayMillis: 200,
  });
  const openai = instrumentOpenAI(
    new OpenAI({ apiKey: 'demo-key', baseURL: provider.openaiBaseURL, maxRetries: 0 }),
  );
  const anthropic = instrumentAnthropic(
    new Anthropic({ apiKey: 'demo-key', baseURL: provider.anthropicBaseURL, maxRetries: 0 }),
  );
  const rnd = random(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const summary: DemoSummary = {
    calls: 0,
    errors: 0,
    streamed: 0,
    embeddings: 0,
    ocrJobs: 0,
    byModel: {},
    telemetry: telemetry.stats(),
  };
  const gap = options.rate > 0 ? 1000 / options.rate : 0;

  try {
    for (let i = 0; i < options.requests; i++) {
      const user = pick(USERS);
      const feature = pick(FEATURES);
      const context = {
        userId: user,
        sessionId: `${user}-s${i % 7}`,
        feature,
        tenantId: pick(TENANTS),
        taskId: `demo-task-${i % 12}`,
      };
      const roll = rnd();
      const fail = rnd() < 0.06 ? pick(['429', '500']) : undefined;
      const stream = rnd() < 0.35;
      const headers = fail ? { [FAKE_ERROR_HEADER]: fail } : undefined;
      let model = '';
      try {
        await withUsageContext(context, async () => {
          if (feature === 'invoice-ocr' && roll < 0.5) {
            model = 'mistral-ocr-latest';
            recordOCRUsage({
              provider: 'mistral_ai',
              model,
              pages: 1 + Math.floor(rnd() * 8),
              durationMs: 900,
            });
            summary.ocrJobs++;
          } else if (feature === 'search' && roll < 0.5) {
            model = 'text-embedding-3-small';
            summary.embeddings++;
            await openai.embeddings.create({ model, input: ['query one', 'query two'] }, { headers });
          } else if (roll < 0.55) {
            model = pick(['gpt-4o-mini', 'gpt-4o', 'o3-mini']);
            const messages = [{ role: 'user' as const, content: `Demo request ${i} for ${feature}` }];
            if (stream) {
              summary.streamed++;
              const s = await openai.chat.completions.create({ model, messages, stream: true }, { headers });
              for await (const _chunk of s) {
                // consume the stream as a caller would
              }
            } else {
              await openai.chat.completions.create({ model, messages }, { headers });
            }
          } else {
            model = pick(['claude-sonnet-4-6', 'claude-haiku-4-5']);
            const params = {
              model,
              max_tokens: 512,
              messages: [{ role: 'user' as const, content: `Demo request ${i}` }],
            };
            if (stream) {
              summary.streamed++;
              const s = await anthropic.messages.create({ ...params, stream: true }, { headers });
              for await (const _event of s) {
                // consume
              }
            } else {
              await anthropic.messages.create(params, { headers });
            }
          }
        });
      } catch {
        summary.errors++;
      }
      summary.calls++;
      summary.byModel[model] = (summary.byModel[model] ?? 0) + 1;
      if ((i + 1) % 20 === 0) log(`demo: ${i + 1}/${options.requests} calls sent`);
      if (gap > 0) await new Promise((r) => setTimeout(r, gap));
    }
  } finally {
    await telemetry.forceFlush();
    summary.telemetry = telemetry.stats();
    await telemetry.shutdown();
    await provider.close();
  }
  return summary;
}
