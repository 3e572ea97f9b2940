import type { TokenCounts } from '../contract.js';
import { tapAnyStream } from './apiPromise.js';
import { CallSpec } from './modelCall.js';
import { type MethodInstrumentation, patchMethod } from './patchMethod.js';
import { anthropicUsageTokens, asObject, mergeUsage, stringField } from './providerUsage.js';
import { anthropicFeatures } from './requestFeatures.js';

type Obj = Record<string, unknown>;

function textOf(content: unknown): string {
  if (!Array.isArray(content)) return '';
  let t = '';
  for (const block of content) {
    const b = asObject(block);
    if (typeof b?.text === 'string') t += b.text;
    else if (b?.input !== undefined) t += JSON.stringify(b.input);
  }
  return t;
}

const messages: MethodInstrumentation = {
  // @anthropic-ai/sdk emits its own GenAI client span; the sidecar would count the call twice.
  suppressInnerSpans: true,
  spec: (body: Obj) =>
    typeof body.model === 'string' && body.model !== ''
      ? new CallSpec('chat', 'llm', 'anthropic', body.model, body, anthropicFeatures(body))
      : undefined,
  onResult(call, data, rt, body) {
    if (body.stream !== true) {
      const d = asObject(data);
      call.finish({
        tokens: anthropicUsageTokens(d?.usage),
        responseModel: stringField(d, 'model'),
        outputText: textOf(d?.content),
      });
      return;
    }
    // message_start carries input and cache usage; message_delta carries the final (cumulative) output count.
    let startUsage: Obj | undefined;
    let deltaUsage: Obj | undefined;
    let model: string | undefined;
    let text = '';
    const tapped = tapAnyStream<unknown>(
      data,
      {
        onItem(event) {
          const e = asObject(event);
          if (!e) return true;
          if (e.type === 'message_start') {
            const m = asObject(e.message);
            model = stringField(m, 'model');
            startUsage = asObject(m?.usage);
          } else if (e.type === 'message_delta') {
            deltaUsage = mergeUsage(deltaUsage ?? {}, asObject(e.usage));
          } else if (e.type === 'content_block_delta') {
            const d = asObject(e.delta);
            const piece =
              typeof d?.text === 'string'
                ? d.text
                : typeof d?.partial_json === 'string'
                  ? d.partial_json
                  : undefined;
            if (piece !== undefined) {
              call.firstToken();
              text += piece;
            }
          }
          return true;
        },
        onEnd(outcome) {
          const error = outcome.kind === 'error' ? outcome.error : undefined;
          const merged = startUsage ? anthropicUsageTokens(mergeUsage(startUsage, deltaUsage)) : undefined;
          // Without message_delta the output count is provisional: estimate, keeping the exact input side.
          const tokens: TokenCounts | undefined = deltaUsage ? merged : undefined;
          call.finish({
            tokens,
            knownInputTokens: merged?.inputTokens,
            responseModel: model,
            outputText: text,
            error,
          });
        },
      },
      () => {
        rt.stats.s.internalErrors++;
      },
    );
    if (tapped === undefined) call.finish({ responseModel: model });
    return tapped?.replacement;
  },
};

/**
 * Instruments an `@anthropic-ai/sdk` client in place and returns it (same object, same type):
 * `messages.create`, non-streaming and streaming. Anthropic's `input_tokens` excludes cache reads
 * and writes; the record's `gen_ai.usage.input_tokens` includes them.
 */
export function instrumentAnthropic<T extends object>(client: T): T {
  try {
    patchMethod((client as { messages?: unknown }).messages, 'create', messages);
  } catch {
    // An unexpected client shape leaves it uninstrumented rather than broken.
  }
  return client;
}

/** The instrumented `@anthropic-ai/sdk` method, for prototype patching by `SpendlineInstrumentation`. */
export const ANTHROPIC_MESSAGES = messages;
