import type { TelemetryRuntime } from '../telemetry/runtime.js';
import { asyncGeneratorTap } from './asyncTap.js';
import { CallSpec, type ModelCall } from './modelCall.js';
import { type MethodInstrumentation, patchMethod } from './patchMethod.js';
import { anthropicUsageTokens, asObject, bedrockUsageTokens, mergeUsage } from './providerUsage.js';
import { converseFeatures } from './requestFeatures.js';

type Obj = Record<string, unknown>;
const PROVIDER = 'aws.bedrock';

const TOKEN_HEADERS = Symbol.for('spendline.bedrock.tokenHeaders');
const MIDDLEWARE_NAME = 'spendlineTokenCountHeaders';

function commandName(command: unknown): string | undefined {
  const n = (command as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof n === 'string' ? n : undefined;
}

function modelIdOf(input: Obj | undefined): string | undefined {
  const id = input?.modelId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** InvokeModel's JSON request body, whatever form the caller gave it in. */
function jsonBody(body: unknown): Obj | undefined {
  try {
    if (typeof body === 'string') return asObject(JSON.parse(body));
    if (body instanceof Uint8Array) return asObject(JSON.parse(new TextDecoder().decode(body)));
  } catch {
    // not JSON: nothing to read
  }
  return undefined;
}

function isEmbeddingModel(modelId: string): boolean {
  return /(^|\.)(amazon\.titan-embed|cohere\.embed)/.test(modelId);
}

/**
 * Bedrock answers InvokeModel with `X-Amzn-Bedrock-Input-Token-Count` / `-Output-Token-Count`
 * headers, which the client does not surface; a middleware on the command keeps them on the output.
 */
function captureTokenHeaders(command: unknown): void {
  const stack = asObject(asObject(command)?.middlewareStack);
  if (typeof stack?.add !== 'function') return;
  (stack.add as (mw: unknown, opts: unknown) => void)(
    (next: (a: unknown) => Promise<{ response?: unknown; output?: unknown }>) => async (args: unknown) => {
      const r = await next(args);
      const headers = asObject(asObject(r.response)?.headers);
      const out = asObject(r.output);
      if (headers && out) {
        Object.defineProperty(out, TOKEN_HEADERS, {
          value: {
            input: Number(headers['x-amzn-bedrock-input-token-count']),
            output: Number(headers['x-amzn-bedrock-output-token-count']),
          },
          enumerable: false,
        });
      }
      return r;
    },
    { step: 'initialize', name: MIDDLEWARE_NAME, override: true },
  );
}

function specOf(command: Obj): CallSpec | undefined {
  const name = commandName(command);
  const input = asObject(command.input);
  const model = modelIdOf(input);
  if (!model || !input) return undefined;
  if (name === 'ConverseCommand' || name === 'ConverseStreamCommand') {
    return new CallSpec(
      'chat',
      'llm',
      PROVIDER,
      model,
      { messages: input.messages, system: input.system },
      converseFeatures(input),
    );
  }
  if (name === 'InvokeModelWithResponseStreamCommand') {
    return new CallSpec('chat', 'llm', PROVIDER, model, jsonBody(input.body) ?? {});
  }
  if (name === 'InvokeModelCommand') {
    captureTokenHeaders(command);
    const body = jsonBody(input.body) ?? {};
    const embedding = isEmbeddingModel(model);
    return new CallSpec(
      embedding ? 'embeddings' : 'chat',
      embedding ? 'embedding' : 'llm',
      PROVIDER,
      model,
      embedding ? { input: body.inputText ?? body.texts } : body,
    );
  }
  return undefined;
}

function textOfConverse(output: unknown): string {
  const content = asObject(asObject(asObject(output)?.message))?.content;
  let t = '';
  if (Array.isArray(content))
    for (const c of content) if (typeof asObject(c)?.text === 'string') t += asObject(c)?.text;
  return t;
}

function tokensOf(input: number, output: number) {
  return {
    inputTokens: input,
    outputTokens: output,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: 0,
  };
}

/** `BedrockRuntimeClient.prototype.send` for Converse, ConverseStream and InvokeModel; other commands pass through. */
const send: MethodInstrumentation = {
  spec: (command) => specOf(command),
  onResult(call, data, rt, command) {
    const name = commandName(command);
    const d = asObject(data);
    if (name === 'ConverseCommand') {
      call.finish({ tokens: bedrockUsageTokens(d?.usage), outputText: textOfConverse(d?.output) });
      return;
    }
    if (name === 'ConverseStreamCommand') {
      let usage: unknown;
      let text = '';
      const tapped = asyncGeneratorTap<unknown>(
        d?.stream,
        {
          onItem(event) {
            const e = asObject(event);
            const delta = asObject(asObject(e?.contentBlockDelta)?.delta);
            if (typeof delta?.text === 'string') {
              call.firstToken();
              text += delta.text;
            }
            const meta = asObject(e?.metadata);
            if (meta?.usage) usage = meta.usage;
          },
          onEnd(outcome) {
            call.finish({
              tokens: bedrockUsageTokens(usage),
              outputText: text,
              error: outcome.kind === 'error' ? outcome.error : undefined,
            });
          },
        },
        () => {
          rt.stats.s.internalErrors++;
        },
      );
      // The stream is a property of the response: replace it with the same events, observed.
      if (tapped && d) d.stream = tapped;
      else call.finish({});
      return;
    }
    if (name === 'InvokeModelWithResponseStreamCommand') {
      tapInvokeStream(call, d, rt);
      return;
    }
    // InvokeModel: the model's own JSON, else the token-count headers.
    const input = asObject(asObject(command)?.input);
    const model = modelIdOf(input) ?? '';
    const body = jsonBody(d?.body);
    const headers = (d as Record<symbol, { input: number; output: number } | undefined> | undefined)?.[
      TOKEN_HEADERS
    ];
    const fromHeaders =
      headers && Number.isInteger(headers.input) && headers.input >= 0
        ? tokensOf(
            headers.input,
            Number.isInteger(headers.output) && headers.output >= 0 ? headers.output : 0,
          )
        : undefined;
    if (isEmbeddingModel(model)) {
      const titan = body?.inputTextTokenCount;
      const texts = asObject(jsonBody(input?.body))?.texts;
      call.finish({
        tokens: typeof titan === 'number' ? tokensOf(titan, 0) : fromHeaders,
        embeddingInputs: Array.isArray(texts) ? texts.length : 1,
      });
      return;
    }
    const anthropic = anthropicUsageTokens(body?.usage);
    call.finish({
      tokens: anthropic ?? fromHeaders,
      responseModel: typeof body?.model === 'string' ? body.model : undefined,
      outputText: textOfConverse({ message: { content: body?.content } }),
    });
  },
};

/**
 * InvokeModelWithResponseStream: each event's `chunk.bytes` is the model's own stream event (for
 * Anthropic: message_start / content_block_delta / message_delta); the last one also carries
 * `amazon-bedrock-invocationMetrics`, used when the model's events have no usage.
 */
function tapInvokeStream(call: ModelCall, d: Obj | undefined, rt: TelemetryRuntime): void {
  let startUsage: Obj | undefined;
  let deltaUsage: Obj | undefined;
  let metrics: Obj | undefined;
  let model: string | undefined;
  let text = '';
  const decoder = new TextDecoder();
  const tapped = asyncGeneratorTap<unknown>(
    d?.body,
    {
      onItem(event) {
        const bytes = asObject(asObject(event)?.chunk)?.bytes;
        if (!(bytes instanceof Uint8Array)) return;
        const e = asObject(JSON.parse(decoder.decode(bytes)));
        if (!e) return;
        if (e.type === 'message_start') {
          const m = asObject(e.message);
          startUsage = asObject(m?.usage);
          if (typeof m?.model === 'string') model = m.model;
        } else if (e.type === 'message_delta') deltaUsage = mergeUsage(deltaUsage ?? {}, asObject(e.usage));
        else if (e.type === 'content_block_delta') {
          const t = asObject(e.delta)?.text;
          if (typeof t === 'string') {
            call.firstToken();
            text += t;
          }
        }
        const m = asObject(e['amazon-bedrock-invocationMetrics']);
        if (m) metrics = m;
      },
      onEnd(outcome) {
        let tokens =
          deltaUsage && startUsage ? anthropicUsageTokens(mergeUsage(startUsage, deltaUsage)) : undefined;
        if (!tokens && typeof metrics?.inputTokenCount === 'number') {
          tokens = bedrockUsageTokens({
            inputTokens: metrics.inputTokenCount,
            outputTokens: metrics.outputTokenCount,
            cacheReadInputTokens: metrics.cacheReadInputTokenCount,
            cacheWriteInputTokens: metrics.cacheWriteInputTokenCount,
          });
        }
        call.finish({
          tokens,
          knownInputTokens: startUsage ? anthropicUsageTokens(startUsage)?.inputTokens : undefined,
          responseModel: model,
          outputText: text,
          error: outcome.kind === 'error' ? outcome.error : undefined,
        });
      },
    },
    () => {
      rt.stats.s.internalErrors++;
    },
  );
  if (tapped && d) d.body = tapped;
  else call.finish({});
}

export const BEDROCK_SEND = send;

/**
 * Instruments a `BedrockRuntimeClient` in place and returns it: `send()` of `ConverseCommand`,
 * `ConverseStreamCommand`, `InvokeModelCommand` (Anthropic models; Titan and Cohere embeddings) and
 * `InvokeModelWithResponseStreamCommand` (Anthropic models).
 * With `SpendlineInstrumentation` running this is not needed.
 */
export function instrumentBedrock<T extends object>(client: T): T {
  try {
    patchMethod(client, 'send', send);
  } catch {
    // An unexpected client shape leaves it uninstrumented rather than broken.
  }
  return client;
}
