import { resolveProviderName } from '../pricing/resolveProvider.js';
import type { TelemetryRuntime } from '../telemetry/runtime.js';
import { tapAnyStream } from './apiPromise.js';
import { CallSpec } from './modelCall.js';
import { type MethodInstrumentation, patchMethod } from './patchMethod.js';
import {
  asObject,
  chatUsageTokens,
  embeddingUsageTokens,
  responsesUsageTokens,
  stringField,
} from './providerUsage.js';
import { openAIChatFeatures, openAIResponsesFeatures } from './requestFeatures.js';

type Obj = Record<string, unknown>;
const PROVIDER = 'openai';

/**
 * The provider that bills a call: an OpenAI-compatible endpoint named by the client's `baseURL`
 * (read per call from the resource's `_client`, so prototype patching sees it too), else `openai`.
 */
function providerOf(self: unknown): string {
  const baseURL = asObject(asObject(self)?._client)?.baseURL;
  return typeof baseURL === 'string' && baseURL !== '' ? resolveProviderName(PROVIDER, baseURL) : PROVIDER;
}

function modelOf(body: Obj): string | undefined {
  return typeof body.model === 'string' && body.model !== '' ? body.model : undefined;
}

/** Streams without usage get `stream_options.include_usage: true`, unless the caller set it either way. */
function wantsInjectedUsage(body: Obj): boolean {
  if (body.stream !== true) return false;
  const so = asObject(body.stream_options);
  return so?.include_usage === undefined;
}

/**
 * `{ ...obj }`, about ten times cheaper per streaming call than a spread literal with one more key
 * (V8 leaves its fast clone path then). Object.assign sets `__proto__` instead of copying it, so an
 * object with its own `__proto__` key is spread.
 */
function shallowCopy(obj: Obj): Obj {
  return Object.hasOwn(obj, '__proto__') ? { ...obj } : Object.assign({}, obj);
}

function countingInternal(rt: TelemetryRuntime): () => void {
  return () => {
    rt.stats.s.internalErrors++;
  };
}

const chatCompletions: MethodInstrumentation = {
  spec: (body, self) => {
    const model = modelOf(body);
    return model
      ? new CallSpec('chat', 'llm', providerOf(self), model, body, openAIChatFeatures(body))
      : undefined;
  },
  prepare: (body) => {
    if (!wantsInjectedUsage(body)) return body;
    const sent = shallowCopy(body);
    const so = asObject(body.stream_options);
    sent.stream_options = so
      ? Object.assign(shallowCopy(so), { include_usage: true })
      : { include_usage: true };
    return sent;
  },
  onResult(call, data, rt, body) {
    if (body.stream !== true) {
      const choice = asObject((asObject(data)?.choices as unknown[] | undefined)?.[0]);
      const message = asObject(choice?.message);
      call.finish({
        tokens: chatUsageTokens(asObject(data)?.usage),
        responseModel: stringField(data, 'model'),
        outputText:
          typeof message?.content === 'string' ? message.content : JSON.stringify(message?.tool_calls ?? ''),
      });
      return;
    }
    const hideUsageChunk = wantsInjectedUsage(body);
    let tokens: ReturnType<typeof chatUsageTokens>;
    let model: string | undefined;
    let text = '';
    const tapped = tapAnyStream(
      data,
      {
        onItem(chunk) {
          const c = asObject(chunk);
          if (!c) return true;
          model ??= stringField(c, 'model');
          const usage = chatUsageTokens(c.usage);
          if (usage) tokens = usage;
          const choices = Array.isArray(c.choices) ? c.choices : [];
          for (const ch of choices) {
            const delta = asObject(asObject(ch)?.delta);
            if (!delta) continue;
            if (typeof delta.content === 'string' && delta.content !== '') {
              call.firstToken();
              text += delta.content;
            }
            if (Array.isArray(delta.tool_calls)) {
              call.firstToken();
              for (const tc of delta.tool_calls) {
                const f = asObject(asObject(tc)?.function);
                if (typeof f?.name === 'string') text += f.name;
                if (typeof f?.arguments === 'string') text += f.arguments;
              }
            }
          }
          // The usage-only chunk exists because we asked for it; the caller did not, so it never sees it.
          return !(hideUsageChunk && usage && choices.length === 0);
        },
        onEnd(outcome) {
          call.finish({
            tokens,
            responseModel: model,
            outputText: text,
            error: outcome.kind === 'error' ? outcome.error : undefined,
          });
        },
      },
      countingInternal(rt),
    );
    if (tapped === undefined) call.finish({ responseModel: model });
    return tapped?.replacement;
  },
};

const responses: MethodInstrumentation = {
  spec: (body, self) => {
    const model = modelOf(body);
    return model
      ? new CallSpec('chat', 'llm', providerOf(self), model, body, openAIResponsesFeatures(body))
      : undefined;
  },
  onResult(call, data, rt, body) {
    if (body.stream !== true) {
      const d = asObject(data);
      call.finish({
        tokens: responsesUsageTokens(d?.usage),
        responseModel: stringField(d, 'model'),
        outputText: typeof d?.output_text === 'string' ? d.output_text : undefined,
      });
      return;
    }
    let tokens: ReturnType<typeof responsesUsageTokens>;
    let model: string | undefined;
    let text = '';
    const tapped = tapAnyStream(
      data,
      {
        onItem(event) {
          const e = asObject(event);
          const response = asObject(e?.response);
          if (response) {
            model = stringField(response, 'model') ?? model;
            tokens = responsesUsageTokens(response.usage) ?? tokens;
          }
          if (e?.type === 'response.output_text.delta' && typeof e.delta === 'string') {
            call.firstToken();
            text += e.delta;
          }
          return true;
        },
        onEnd(outcome) {
          call.finish({
            tokens,
            responseModel: model,
            outputText: text,
            error: outcome.kind === 'error' ? outcome.error : undefined,
          });
        },
      },
      countingInternal(rt),
    );
    if (tapped === undefined) call.finish({ responseModel: model });
    return tapped?.replacement;
  },
};

function embeddingInputCount(input: unknown): number {
  if (!Array.isArray(input)) return 1;
  // An array of token ids is one input; an array of strings or of token arrays is a batch.
  return input.length > 0 && input.every((x) => typeof x === 'number') ? 1 : input.length;
}

const embeddings: MethodInstrumentation = {
  spec: (body, self) => {
    const model = modelOf(body);
    return model ? new CallSpec('embeddings', 'embedding', providerOf(self), model, body) : undefined;
  },
  onResult(call, data, _rt, body) {
    const d = asObject(data);
    call.finish({
      tokens: embeddingUsageTokens(d?.usage),
      responseModel: stringField(d, 'model'),
      embeddingInputs: embeddingInputCount(body.input),
    });
  },
};

/** Structural view of the parts of an `openai` client that get instrumented. */
interface OpenAILike {
  chat?: { completions?: unknown };
  responses?: unknown;
  embeddings?: unknown;
}

/**
 * Instruments an `openai` client in place and returns it (same object, same type):
 * `chat.completions.create` (incl. streaming, where `stream_options.include_usage` is requested and
 * the extra usage-only chunk hidden), `responses.create` (incl. streaming) and `embeddings.create`.
 * Records go through the running {@link startTelemetry}; with none running, calls pass straight through.
 * A client whose `baseURL` is another OpenAI-compatible endpoint (Azure OpenAI, Groq, DeepSeek,
 * Together, Mistral, OpenRouter, a local Ollama or vLLM) records that provider (`resolveProviderName`).
 */
export function instrumentOpenAI<T extends object>(client: T): T {
  try {
    const c = client as OpenAILike;
    patchMethod(c.chat?.completions, 'create', chatCompletions);
    patchMethod(c.responses, 'create', responses);
    patchMethod(c.embeddings, 'create', embeddings);
  } catch {
    // Never break the host: an unexpected client shape leaves it uninstrumented.
  }
  return client;
}

/** The instrumented `openai` methods, for prototype patching by `SpendlineInstrumentation`. */
export const OPENAI_METHODS = { chatCompletions, responses, embeddings } as const;
