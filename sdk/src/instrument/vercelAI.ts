import { ReadableStream, type ReadableStreamReadResult } from 'node:stream/web';
import { context as otelContext } from '@opentelemetry/api';
import { BudgetExceededError } from '../budget/budgetExceededError.js';
import type { TokenCounts } from '../contract.js';
import { activeRuntime, type TelemetryRuntime } from '../telemetry/runtime.js';
import { CallSpec, ModelCall } from './modelCall.js';
import { asObject } from './providerUsage.js';

type Obj = Record<string, unknown>;

/** The parts of an AI SDK `LanguageModel` (spec v2, v3 or v4) the middleware reads. */
interface ModelLike {
  provider: string;
  modelId: string;
}

interface WrapGenerate<R> {
  model: ModelLike;
  params: object;
  doGenerate: () => PromiseLike<R>;
}
interface WrapStream<R> {
  model: ModelLike;
  params: object;
  doStream: () => PromiseLike<R>;
}

/** AI SDK provider ids (`openai.chat`, `google.vertex.chat`, `amazon-bedrock`, …) → `gen_ai.provider.name`. */
const PROVIDER_PREFIXES: [prefix: string, name: string][] = [
  ['google.vertex', 'gcp.vertex_ai'],
  ['google', 'gcp.gemini'],
  ['vertex', 'gcp.vertex_ai'],
  ['amazon-bedrock', 'aws.bedrock'],
  ['bedrock', 'aws.bedrock'],
  ['azure', 'azure.ai.openai'],
  ['mistral', 'mistral_ai'],
  ['xai', 'x_ai'],
  ['openai', 'openai'],
  ['anthropic', 'anthropic'],
  ['groq', 'groq'],
  ['deepseek', 'deepseek'],
  ['cohere', 'cohere'],
  ['perplexity', 'perplexity'],
];

export function aiSdkProviderName(provider: string): string {
  const p = provider.toLowerCase();
  for (const [prefix, name] of PROVIDER_PREFIXES) if (p === prefix || p.startsWith(`${prefix}.`)) return name;
  const dot = p.indexOf('.');
  return dot > 0 ? p.slice(0, dot) : p;
}

/** A reported count; absent is `undefined`, an invalid one NaN (refused by `checkedProviderTokens`, never 0). */
function n(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : Number.NaN;
}

/**
 * AI SDK usage → semconv tokens. Spec v3 and v4 (`ai` 6 and 7): `inputTokens {total, noCache, cacheRead,
 * cacheWrite}`, `outputTokens {total, text, reasoning}`; spec v2: numbers plus `cachedInputTokens`, `reasoningTokens`.
 */
export function aiSdkUsageTokens(usage: unknown): TokenCounts | undefined {
  const u = asObject(usage);
  if (!u) return undefined;
  const inp = asObject(u.inputTokens);
  const out = asObject(u.outputTokens);
  if (inp || out) {
    const cacheRead = n(inp?.cacheRead) ?? 0;
    const cacheWrite = n(inp?.cacheWrite) ?? 0;
    const total =
      n(inp?.total) ??
      (n(inp?.noCache) !== undefined ? (n(inp?.noCache) as number) + cacheRead + cacheWrite : undefined);
    if (total === undefined) return undefined;
    const reasoning = n(out?.reasoning) ?? 0;
    const outTotal = n(out?.total) ?? (n(out?.text) ?? 0) + reasoning;
    return {
      inputTokens: total,
      outputTokens: outTotal,
      cacheReadInputTokens: cacheRead,
      cacheCreationInputTokens: cacheWrite,
      reasoningOutputTokens: reasoning,
    };
  }
  const input = n(u.inputTokens);
  if (input === undefined) return undefined;
  return {
    inputTokens: input,
    outputTokens: n(u.outputTokens) ?? 0,
    cacheReadInputTokens: n(u.cachedInputTokens) ?? 0,
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: n(u.reasoningTokens) ?? 0,
  };
}

function specOf(model: ModelLike, options: object): CallSpec {
  const params = options as Obj;
  const tools = params.tools;
  const format = asObject(params.responseFormat);
  return new CallSpec(
    'chat',
    'llm',
    aiSdkProviderName(String(model.provider ?? '')),
    String(model.modelId ?? ''),
    { messages: promptTexts(params.prompt) },
    (Array.isArray(tools) && tools.length > 0) || format?.type === 'json'
      ? { tools: Array.isArray(tools) && tools.length > 0, structuredOutput: format?.type === 'json' }
      : undefined,
  );
}

/** The AI SDK prompt's text parts, as chat messages (for estimates when a provider reports no usage). */
function promptTexts(prompt: unknown): { content: string }[] {
  const out: { content: string }[] = [];
  if (!Array.isArray(prompt)) return out;
  for (const m of prompt) {
    const c = asObject(m)?.content;
    if (typeof c === 'string') out.push({ content: c });
    else if (Array.isArray(c))
      for (const p of c)
        if (typeof asObject(p)?.text === 'string') out.push({ content: asObject(p)?.text as string });
  }
  return out;
}

function textOf(content: unknown): string {
  let t = '';
  if (Array.isArray(content))
    for (const p of content) if (typeof asObject(p)?.text === 'string') t += asObject(p)?.text;
  return t;
}

async function gateOrThrow(rt: TelemetryRuntime, call: ModelCall, provider: string): Promise<void> {
  const g = await rt.budget?.gate(call.usageContext, provider);
  if (g instanceof BudgetExceededError) throw g;
  if (g === 'warn') call.overBudget();
}

/**
 * A Vercel AI SDK language-model middleware: one usage record per provider call (so per step of a
 * multi-step `generateText` / `streamText`), with the exact usage the provider reported — cached
 * and reasoning tokens included — and budgets enforced before the call.
 *
 * ```ts
 * const model = wrapLanguageModel({ model: openai('gpt-4o-mini'), middleware: spendlineMiddleware() });
 * ```
 */
export function spendlineMiddleware() {
  return {
    // `ai` 6 types a middleware as exactly 'v3'; `ai` 7 (spec v4, the same wrap API) accepts any
    // version and ignores it at run time. 'v3' type-checks with both.
    specificationVersion: 'v3' as const,
    async wrapGenerate<R>({ doGenerate, model, params }: WrapGenerate<R>): Promise<R> {
      const rt = activeRuntime();
      if (!rt) return doGenerate();
      const spec = specOf(model, params);
      const call = new ModelCall(rt, spec);
      await gateOrThrow(rt, call, spec.provider);
      let result: R;
      try {
        // In the call's span (and its marks): the AI SDK's own span of the step, when its telemetry is on,
        // is then marked as this record's call (docs/emitters.md, "Never counted twice").
        result = await otelContext.with(call.begin(), doGenerate);
      } catch (error) {
        call.finish({ error });
        throw error;
      }
      try {
        const r = asObject(result);
        call.finish({
          tokens: aiSdkUsageTokens(r?.usage),
          responseModel:
            typeof asObject(r?.response)?.modelId === 'string'
              ? (asObject(r?.response)?.modelId as string)
              : undefined,
          outputText: textOf(r?.content) || (typeof r?.text === 'string' ? r.text : ''),
        });
      } catch {
        rt.stats.s.internalErrors++;
      }
      return result;
    },
    async wrapStream<R>({ doStream, model, params }: WrapStream<R>): Promise<R> {
      const rt = activeRuntime();
      if (!rt) return doStream();
      const spec = specOf(model, params);
      const call = new ModelCall(rt, spec);
      await gateOrThrow(rt, call, spec.provider);
      let result: R;
      try {
        result = await otelContext.with(call.begin(), doStream);
      } catch (error) {
        call.finish({ error });
        throw error;
      }
      const r = asObject(result);
      const stream = r?.stream;
      if (!r || !(stream instanceof ReadableStream)) {
        call.finish({});
        return result;
      }
      let usage: unknown;
      let modelId: string | undefined;
      let text = '';
      let error: unknown;
      const observe = (part: unknown): void => {
        try {
          const p = asObject(part);
          if (p?.type === 'text-delta') {
            call.firstToken();
            text +=
              typeof p.delta === 'string' ? p.delta : typeof p.textDelta === 'string' ? p.textDelta : '';
          } else if (p?.type === 'finish') usage = p.usage;
          else if (p?.type === 'response-metadata' && typeof p.modelId === 'string') modelId = p.modelId;
          else if (p?.type === 'error') error = p.error;
        } catch {
          rt.stats.s.internalErrors++;
        }
      };
      const end = (): void =>
        call.finish({ tokens: aiSdkUsageTokens(usage), responseModel: modelId, outputText: text, error });
      const reader = (stream as ReadableStream<unknown>).getReader();
      // Pull-through: the same parts, in order; the record is emitted at the end, on error, or when the reader cancels.
      const observed = new ReadableStream<unknown>({
        async pull(controller) {
          let next: ReadableStreamReadResult<unknown>;
          try {
            next = await reader.read();
          } catch (e) {
            error = e;
            end();
            controller.error(e);
            return;
          }
          if (next.done) {
            end();
            controller.close();
            return;
          }
          observe(next.value);
          controller.enqueue(next.value);
        },
        cancel(reason) {
          end();
          return reader.cancel(reason);
        },
      });
      return { ...r, stream: observed } as R;
    },
  };
}
