import { asyncGeneratorTap } from './asyncTap.js';
import { CallSpec } from './modelCall.js';
import { type MethodInstrumentation, patchMethod } from './patchMethod.js';
import { asObject, geminiUsageTokens } from './providerUsage.js';
import { geminiFeatures } from './requestFeatures.js';

type Obj = Record<string, unknown>;

/** `models/gemini-2.5-flash` → `gemini-2.5-flash`; tuned and publisher paths keep their last segment. */
function modelName(v: unknown): string | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const i = v.lastIndexOf('/');
  return i >= 0 ? v.slice(i + 1) : v;
}

/** `gcp.vertex_ai` for a Vertex AI client, else `gcp.gemini` (the Gemini Developer API). */
function providerOf(self: unknown): string {
  const api = asObject(asObject(self)?.apiClient);
  try {
    return typeof api?.isVertexAI === 'function' && (api.isVertexAI as () => boolean).call(api)
      ? 'gcp.vertex_ai'
      : 'gcp.gemini';
  } catch {
    return 'gcp.gemini';
  }
}

function textOf(response: unknown): string {
  const candidates = asObject(response)?.candidates;
  if (!Array.isArray(candidates)) return '';
  let t = '';
  const parts = asObject(asObject(candidates[0])?.content)?.parts;
  if (Array.isArray(parts))
    for (const p of parts) if (typeof asObject(p)?.text === 'string') t += asObject(p)?.text;
  return t;
}

/** The chunk ends its candidate (`finishReason` set): its usage is the call's final usage. */
function finished(chunk: Obj): boolean {
  const candidates = chunk.candidates;
  return Array.isArray(candidates) && typeof asObject(candidates[0])?.finishReason === 'string';
}

const chatSpec = (body: Obj, self: unknown) => {
  const model = modelName(body.model);
  return model
    ? new CallSpec(
        'generate_content',
        'llm',
        providerOf(self),
        model,
        // The prompt's texts, for estimates (and, with content capture on, the record's input).
        { system: textsOf(asObject(body.config)?.systemInstruction), input: textsOf(body.contents) },
        geminiFeatures(asObject(body.config)),
      )
    : undefined;
};

/** `Models.prototype.generateContentInternal`: one provider call (automatic function calling makes several). */
const generateContent: MethodInstrumentation = {
  spec: chatSpec,
  onResult(call, data) {
    const d = asObject(data);
    call.finish({
      tokens: geminiUsageTokens(d?.usageMetadata),
      responseModel: modelName(d?.modelVersion),
      outputText: textOf(d),
    });
  },
};

/** `Models.prototype.generateContentStreamInternal`: resolves to an async generator of chunks; the last usage wins. */
const generateContentStream: MethodInstrumentation = {
  spec: chatSpec,
  onResult(call, data, rt) {
    let usage: unknown;
    let usageFinal = false;
    let model: string | undefined;
    let text = '';
    return asyncGeneratorTap(
      data,
      {
        onItem(chunk) {
          const c = asObject(chunk);
          if (c?.usageMetadata) {
            usage = c.usageMetadata;
            usageFinal = finished(c);
          }
          model ??= modelName(c?.modelVersion);
          const piece = textOf(c);
          if (piece) {
            call.firstToken();
            text += piece;
          }
        },
        onEnd(outcome) {
          // Chunks before the last carry provisional usage (the prompt count, output so far): a stream
          // left or broken before its final chunk keeps the input and estimates the output.
          const counted = geminiUsageTokens(usage);
          const final = outcome.kind === 'done' || usageFinal;
          call.finish({
            tokens: final ? counted : undefined,
            knownInputTokens: final ? undefined : counted?.inputTokens,
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
  },
};

function embeddingInputs(contents: unknown): number {
  return Array.isArray(contents) ? contents.length : 1;
}

/**
 * `Models.prototype.embedContentInternal`. Vertex AI reports `statistics.tokenCount` per embedding
 * (exact); the Gemini Developer API reports no usage, so its input is estimated with a tokenizer.
 */
const embedContent: MethodInstrumentation = {
  spec: (body, self) => {
    const model = modelName(body.model);
    return model
      ? new CallSpec('embeddings', 'embedding', providerOf(self), model, { input: textsOf(body.contents) })
      : undefined;
  },
  onResult(call, data, _rt, body) {
    const embeddings = asObject(data)?.embeddings;
    let tokens: number | undefined;
    if (Array.isArray(embeddings) && embeddings.length > 0) {
      let sum = 0;
      for (const e of embeddings) {
        const n = asObject(asObject(e)?.statistics)?.tokenCount;
        if (typeof n !== 'number') {
          sum = -1;
          break;
        }
        sum += n;
      }
      if (sum >= 0) tokens = sum;
    }
    call.finish({
      tokens:
        tokens === undefined
          ? undefined
          : {
              inputTokens: tokens,
              outputTokens: 0,
              cacheReadInputTokens: 0,
              cacheCreationInputTokens: 0,
              reasoningOutputTokens: 0,
            },
      embeddingInputs: embeddingInputs(body.contents),
    });
  },
};

/** The texts of `contents` (a string, parts, or contents), for tokenizer estimates. */
function textsOf(contents: unknown): string[] {
  const out: string[] = [];
  const walk = (c: unknown): void => {
    if (typeof c === 'string') out.push(c);
    else if (Array.isArray(c)) for (const x of c) walk(x);
    else {
      const o = asObject(c);
      if (typeof o?.text === 'string') out.push(o.text);
      else if (o?.parts) walk(o.parts);
    }
  };
  walk(contents);
  return out;
}

/** The instrumented `@google/genai` `Models` prototype methods. */
export const GOOGLE_GENAI_METHODS: Record<string, MethodInstrumentation> = {
  generateContentInternal: generateContent,
  generateContentStreamInternal: generateContentStream,
  embedContentInternal: embedContent,
};

/**
 * Instruments a `@google/genai` client (`GoogleGenAI`) in place and returns it: `models.generateContent`,
 * `generateContentStream` and `embedContent` (each provider call, so automatic function calling
 * records every round). With `SpendlineInstrumentation` running this is not needed.
 */
export function instrumentGoogleGenAI<T extends object>(client: T): T {
  try {
    const models = (client as { models?: unknown }).models;
    for (const [name, how] of Object.entries(GOOGLE_GENAI_METHODS)) patchMethod(models, name, how);
  } catch {
    // An unexpected client shape leaves it uninstrumented rather than broken.
  }
  return client;
}
