/**
 * What each third-party emitter fixture (sidecar/test/fixtures/emitters) must decode to: the fake
 * provider's truth (`<emitter>.truth.json`, one entry per HTTP call it answered) filtered and reduced to
 * what the emitter reports (docs/emitters.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const EMITTER_FIXTURE_DIR = join(import.meta.dirname, '..', 'fixtures', 'emitters');

export interface TruthCall {
  path: string;
  model: string;
  stream: boolean;
  status: number;
  /**
   * Semantic-convention terms: input includes the cached (and, for Anthropic and Bedrock, cache-written)
   * tokens.
   */
  usage: {
    inputTokens: number;
    outputTokens: number;
    cachedTokens: number;
    reasoningTokens: number;
    /** Anthropic (`/v1/messages`) and Bedrock (`/model/{id}/…`) only. */
    cacheCreationTokens?: number;
    /** Anthropic streams on Bedrock: the early output count of `message_start` (the final one is `outputTokens`). */
    streamStartOutputTokens?: number;
  } | null;
}

/** What an emitter reports of a call. */
export interface Reports {
  /** Whether the emitter reports this HTTP call at all (index = position in the truth). */
  call(c: TruthCall, index: number, all: TruthCall[]): boolean;
  /** Cached tokens: always, never, or on Responses API calls only. */
  cached: boolean | 'responses';
  /** Reasoning tokens: always, never, or on Responses API calls only. */
  reasoning: boolean | 'responses';
  /** Usage of streams that carried it. */
  streamUsage: boolean;
  /** Cached tokens of streams (default: as `cached`). */
  streamCached?: boolean;
  /** Usage of embeddings calls (of each call, when it depends on the model). */
  embeddingUsage: boolean | ((c: TruthCall) => boolean);
  /**
   * Streams without usage that the emitter counts with its own tokenizer and reports as usage
   * (OpenLIT): the call is there, its tokens cannot match the provider's (which sent none).
   */
  tokenizesStreamsWithoutUsage?: boolean;
  /**
   * Anthropic calls: `exact` (input with the cache reads and writes, both counts), or `uncached` (the
   * emitter reports Anthropic's `input_tokens`, which leaves them out, and no cache counts at all).
   */
  anthropicCache?: 'exact' | 'uncached';
  /**
   * Bedrock Runtime calls: `exact` (the default) or `uncached` (the emitter reports Bedrock's `inputTokens`
   * or the Anthropic body's `input_tokens`, both without the cache reads and writes, and no cache counts).
   */
  bedrockCache?: 'exact' | 'uncached';
  /** Anthropic streams on Bedrock: the output count reported is `message_start`'s early one, not the final. */
  outputFromStreamStart?: boolean;
  /** Each call is a log record and a span with one usage id (`@spendline/sdk`): one of the two is a duplicate. */
  recordedTwice?: boolean;
  /** Anthropic calls (by position in the truth) whose cache write the emitter leaves out; default none. */
  noCacheWrite?: (index: number) => boolean;
}

const all = () => true;
/** `@spendline/sdk`'s own record of every call: exact in every column, a log record and a span each. */
const SDK_BESIDE_ANOTHER: Reports = {
  call: all,
  cached: true,
  reasoning: true,
  streamUsage: true,
  embeddingUsage: true,
  recordedTwice: true,
};
/**
 * Emitters captured from the real packages (Node), and Python emitters rebuilt from their source
 * (`-python`: generate/emit-python-from-source.mjs).
 */
export const EMITTERS: Record<string, Reports> = {
  // Tool loop (2 calls in one generateText), Responses API, 2 streams, embedMany, a 429, a 500 retried once.
  'vercel-ai-6': { call: all, cached: true, reasoning: true, streamUsage: true, embeddingUsage: true },
  // Its chat span wraps the SDK's retries: the 500 retried once is one reported call.
  'vercel-ai-7': {
    call: (c, i, calls) => !(c.status === 500 && calls[i - 1]?.status === 500),
    cached: true,
    reasoning: false,
    streamUsage: true,
    embeddingUsage: true,
  },
  'otel-instrumentation-openai': {
    call: all,
    cached: false,
    reasoning: false,
    streamUsage: true,
    embeddingUsage: true,
  },
  // openai 4 (its supported range): no Responses API call in its scenario.
  elastic: { call: all, cached: false, reasoning: false, streamUsage: true, embeddingUsage: true },
  // @spendline/sdk beside another instrumentation of the same client, its wrapper outermost or innermost
  // (generate/emit-spendline-beside.mjs): the SDK's record is the call, exact (it asks streams for usage);
  // the other span of the same call is not counted.
  'spendline-outer-openllmetry': SDK_BESIDE_ANOTHER,
  'spendline-inner-openllmetry': SDK_BESIDE_ANOTHER,
  'spendline-outer-openinference': SDK_BESIDE_ANOTHER,
  'spendline-inner-openinference': SDK_BESIDE_ANOTHER,
  // Beside @opentelemetry/instrumentation-aws-sdk on a BedrockRuntimeClient (its span a child of the SDK's):
  // the SDK's record, with Bedrock's cache reads and writes added to the input.
  'spendline-outer-aws-sdk': SDK_BESIDE_ANOTHER,
  // No embeddings span, no span for failed calls; streams without usage.
  openllmetry: {
    call: (c) => c.status === 200 && c.path !== '/v1/embeddings',
    cached: false,
    reasoning: false,
    streamUsage: false,
    embeddingUsage: false,
  },
  // No span for failed calls; streams and embeddings without usage.
  openinference: {
    call: (c) => c.status === 200,
    cached: true,
    reasoning: true,
    streamUsage: false,
    embeddingUsage: false,
  },
  // Reasoning (gen_ai.usage.reasoning_tokens) only on the Responses API.
  openlit: {
    call: all,
    cached: true,
    reasoning: 'responses',
    streamUsage: true,
    embeddingUsage: true,
    tokenizesStreamsWithoutUsage: true,
  },
  // Stream usage without its details (only prompt/completion); reasoning as gen_ai.usage.reasoning_tokens.
  'openllmetry-python': {
    call: all,
    cached: true,
    reasoning: true,
    streamUsage: true,
    streamCached: false,
    embeddingUsage: true,
  },
  // 0.54, before GenAI semconv 0.5.0: `llm.request.type` instead of `gen_ai.operation.name` (none at all on
  // the Responses API span), `llm.usage.*` total and reasoning; otherwise what 0.62 reports.
  'openllmetry-python-0.54': {
    call: all,
    cached: true,
    reasoning: true,
    streamUsage: true,
    streamCached: false,
    embeddingUsage: true,
  },
  // Anthropic through @ai-sdk/anthropic 1.x: Anthropic's input_tokens, no cache counts on the span (nor
  // any provider metadata); OpenAI chat: no cached or reasoning tokens.
  'vercel-ai-4-anthropic': {
    call: all,
    cached: false,
    reasoning: false,
    streamUsage: true,
    embeddingUsage: true,
    anthropicCache: 'uncached',
  },
  // Anthropic: input without the cache and the cache write only in ai.response.providerMetadata, which the
  // decoder reads; OpenAI chat doGenerate: no cached or reasoning tokens.
  'vercel-ai-5-anthropic': {
    call: all,
    cached: false,
    reasoning: false,
    streamUsage: true,
    embeddingUsage: true,
  },
  'vercel-ai-6-anthropic': {
    call: all,
    cached: true,
    reasoning: true,
    streamUsage: true,
    embeddingUsage: true,
  },
  // @ai-sdk/otel: no reasoning tokens; generateObject and streamObject (calls 2 and 3) leave out the cache write.
  'vercel-ai-7-anthropic': {
    call: all,
    cached: true,
    reasoning: false,
    streamUsage: true,
    embeddingUsage: true,
    noCacheWrite: (i) => i === 2 || i === 3,
  },
  // OpenLIT's span (Anthropic's input_tokens without the cache, the cache counts beside) around the Anthropic
  // SDK's own span of the same call (input with the cache): one call, the inner span.
  'openlit-anthropic': {
    call: all,
    cached: false,
    reasoning: false,
    streamUsage: true,
    embeddingUsage: true,
    anthropicCache: 'exact',
  },
  // Reasoning only on the Responses API; a stream without usage counted by its own tokenizer.
  'openlit-python': {
    call: all,
    cached: true,
    reasoning: 'responses',
    streamUsage: true,
    embeddingUsage: true,
    tokenizesStreamsWithoutUsage: true,
  },
  // Latest experimental semconv with events: the span is the call, its inference event (same usage, in the
  // sampled span) is not; cached tokens on the Responses API only.
  'otel-openai-v2-python': {
    call: all,
    cached: 'responses',
    reasoning: false,
    streamUsage: true,
    embeddingUsage: true,
  },
  // Rebuilt from the Java and .NET source (no Responses API calls; Semantic Kernel traces no embeddings):
  // prompt/completion only, a stream without usage as zeros (Spring AI) or without usage tags (SK).
  'spring-ai-java': { call: all, cached: false, reasoning: false, streamUsage: true, embeddingUsage: true },
  'semantic-kernel-dotnet': {
    call: all,
    cached: false,
    reasoning: false,
    streamUsage: true,
    embeddingUsage: true,
  },
  // Stream usage goes on a separate log record (logfire.span_type "log"), not on the call's span.
  'logfire-python': { call: all, cached: false, reasoning: false, streamUsage: false, embeddingUsage: true },
  // Bedrock Runtime through @opentelemetry/instrumentation-aws-sdk: input without the cache reads and
  // writes and no cache counts (Converse's inputTokens, InvokeModel's Anthropic input_tokens); a Titan
  // embedding's input count, none for a Cohere one; an Anthropic InvokeModelWithResponseStream's output
  // count from message_start.
  'aws-sdk-bedrock': {
    call: all,
    cached: false,
    reasoning: false,
    streamUsage: true,
    embeddingUsage: (c) => !c.model.startsWith('cohere.'),
    bedrockCache: 'uncached',
    outputFromStreamStart: true,
  },
};

/**
 * Fixture models the price catalog (`@pydantic/genai-prices`) does not know: a call of one with usage is
 * counted with its tokens and `llm_unpriced_requests_total`, its cost unknown (never $0).
 */
export const UNPRICED_MODELS: ReadonlySet<string> = new Set(['cohere.embed-english-v3']);

export interface ExpectedCall {
  operation: 'chat' | 'embeddings';
  model: string;
  status: 'ok' | 'error';
  /** `emitter-count`: counted by the emitter's own tokenizer (tokens not comparable). */
  usageType: 'exact' | 'unknown' | 'emitter-count';
  /** input / output / cache read / cache write / reasoning. */
  tokens: [number, number, number, number, number];
  /** The provider that billed it (from the API path). */
  provider: 'openai' | 'anthropic' | 'aws.bedrock';
}

/** Whether a count reported always, never or on the Responses API only is reported for a call to `path`. */
function reports(what: boolean | 'responses', path: string): boolean {
  return what === true || (what === 'responses' && path === '/v1/responses');
}

export function readTruth(emitter: string): TruthCall[] {
  return JSON.parse(readFileSync(join(EMITTER_FIXTURE_DIR, `${emitter}.truth.json`), 'utf8')) as TruthCall[];
}

export function expectedCalls(emitter: string): ExpectedCall[] {
  const r = EMITTERS[emitter];
  if (r === undefined) throw new Error(`no such emitter ${emitter}`);
  const truth = readTruth(emitter);
  return truth
    .map((c, index) => ({ c, index }))
    .filter(({ c, index }) => r.call(c, index, truth))
    .map(({ c, index }): ExpectedCall => {
      const bedrock = c.path.startsWith('/model/');
      const embeddings =
        c.path === '/v1/embeddings' || (bedrock && /^\/model\/[^/]*embed[^/]*\/invoke$/.test(c.path));
      const operation = embeddings ? 'embeddings' : 'chat';
      const provider = bedrock ? 'aws.bedrock' : c.path === '/v1/messages' ? 'anthropic' : 'openai';
      const embeddingUsage = typeof r.embeddingUsage === 'function' ? r.embeddingUsage(c) : r.embeddingUsage;
      const status = c.status === 200 ? 'ok' : 'error';
      const u = c.usage;
      const none: ExpectedCall['tokens'] = [0, 0, 0, 0, 0];
      const call = (usageType: ExpectedCall['usageType'], tokens: ExpectedCall['tokens']): ExpectedCall => ({
        operation,
        provider,
        model: c.model,
        status,
        usageType,
        tokens,
      });
      if (u === null && c.stream && status === 'ok' && r.tokenizesStreamsWithoutUsage)
        return call('emitter-count', none);
      if (u === null || (c.stream && !r.streamUsage) || (operation === 'embeddings' && !embeddingUsage))
        return call('unknown', none);
      /**
       * Anthropic and Bedrock: the truth's input includes the cache reads and writes; an `uncached`
       * emitter reports the provider's own input count, which leaves both out, and no cache counts.
       */
      const withCache = (uncached: boolean, output: number, write: number): ExpectedCall['tokens'] =>
        uncached
          ? [u.inputTokens - u.cachedTokens - write, output, 0, 0, 0]
          : [u.inputTokens, output, u.cachedTokens, write, 0];
      if (provider === 'aws.bedrock') {
        const output = r.outputFromStreamStart
          ? (u.streamStartOutputTokens ?? u.outputTokens)
          : u.outputTokens;
        return call('exact', withCache(r.bedrockCache === 'uncached', output, u.cacheCreationTokens ?? 0));
      }
      if (provider === 'anthropic') {
        const write = r.noCacheWrite?.(index) ? 0 : (u.cacheCreationTokens ?? 0);
        return call('exact', withCache(r.anthropicCache === 'uncached', u.outputTokens, write));
      }
      return call('exact', [
        u.inputTokens,
        u.outputTokens,
        reports(c.stream ? (r.streamCached ?? r.cached) : r.cached, c.path) ? u.cachedTokens : 0,
        0,
        reports(r.reasoning, c.path) ? u.reasoningTokens : 0,
      ]);
    });
}
