/**
 * The usage-record contract between emitters (this SDK, or any OpenTelemetry GenAI instrumentation)
 * and the spendline sidecar. One name, one place: the sidecar imports these very constants.
 * GenAI names are semantic-convention names (semconv 1.41, see semconv.ts) where they exist.
 */
import {
  ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
  ATTR_ERROR_TYPE,
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_SYSTEM,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  ATTR_GEN_AI_TOOL_DEFINITIONS,
  ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_COMPLETION_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_PROMPT_TOKENS,
  ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_SESSION_ID,
  ATTR_USER_ID,
  EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS,
} from './semconv.js';

export { capValueLength, MAX_VALUE_LENGTH, TRUNCATION_MARKER } from './valueLength.js';

/** Event name of the one log record emitted per model call (embedding batch, OCR job). */
export const USAGE_EVENT_NAME = EVENT_GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS;

/** Instrumentation scope name the SDK emits under. */
export const SDK_SCOPE_NAME = '@spendline/sdk';

/** Attribute names of a usage record (log record and span alike). */
export const ATTR = {
  operationName: ATTR_GEN_AI_OPERATION_NAME,
  providerName: ATTR_GEN_AI_PROVIDER_NAME,
  requestModel: ATTR_GEN_AI_REQUEST_MODEL,
  responseModel: ATTR_GEN_AI_RESPONSE_MODEL,
  inputTokens: ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  outputTokens: ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  cacheReadInputTokens: ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  cacheCreationInputTokens: ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  reasoningOutputTokens: ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  conversationId: ATTR_GEN_AI_CONVERSATION_ID,
  agentName: ATTR_GEN_AI_AGENT_NAME,
  errorType: ATTR_ERROR_TYPE,
  userId: ATTR_USER_ID,
  sessionId: ATTR_SESSION_ID,
  usageId: 'spendline.usage.id',
  usageType: 'spendline.usage.type',
  serviceType: 'spendline.service.type',
  costUsd: 'spendline.cost.usd',
  /** Who priced `spendline.cost.usd`: `sdk` (the SDK's catalog and overrides) or `emitter` (the caller's own price). */
  costSource: 'spendline.cost.source',
  durationMs: 'spendline.duration.ms',
  ttftMs: 'spendline.ttft.ms',
  feature: 'spendline.feature',
  taskId: 'spendline.task.id',
  tenantId: 'spendline.tenant.id',
  executionPath: 'spendline.execution_path',
  ocrPages: 'spendline.ocr.pages',
  embeddingInputs: 'spendline.embedding.inputs',
  /** Request features (booleans, set only when true): tools offered, structured output, search grounding. */
  requestTools: 'spendline.request.tools',
  requestStructuredOutput: 'spendline.request.structured_output',
  requestSearchGrounding: 'spendline.request.search_grounding',
  /** `true` when the call was over a budget and let through (`enforce: 'warn'`). */
  budgetExceeded: 'spendline.budget.exceeded',
  /**
   * `true`, set by the SDK on another instrumentation's span that wraps a call the SDK records (its
   * wrapper outermost): readers count the SDK's record of the call, not that span.
   */
  sdkRecorded: 'spendline.sdk.recorded',
} as const;

/**
 * The W3C `tracestate` entry the SDK adds to the context a recorded call is sent in:
 * `spendline=<span id>`, the id (16 lowercase hex) of the span that context carries (the call's span).
 * Another instrumentation's span made inside the call inherits it and has that span as its parent:
 * readers count the SDK's record of the call, not that span, whatever export it arrives in. A span
 * whose parent is not the named span (a caller further up that sent the entry, a service downstream
 * that received it) is not affected, so the entry cannot be forged from outside.
 */
export const SDK_TRACESTATE = { key: 'spendline' } as const;

/** Values of `spendline.cost.source`. */
export const COST_SOURCES = ['sdk', 'emitter'] as const;
export type CostSource = (typeof COST_SOURCES)[number];

/** Request features recorded as `spendline.request.*` attributes. */
export interface RequestFeatures {
  /** The request offered the model tools (function calling). */
  tools?: boolean;
  /** The request asked for structured output (a JSON schema or JSON mode). */
  structuredOutput?: boolean;
  /** The request used search grounding (web search, Google Search grounding). */
  searchGrounding?: boolean;
}

/** Resource attributes every emitter sets. */
export const RESOURCE_ATTR = {
  serviceName: ATTR_SERVICE_NAME,
  serviceVersion: ATTR_SERVICE_VERSION,
  deploymentEnvironmentName: ATTR_DEPLOYMENT_ENVIRONMENT_NAME,
} as const;

/**
 * Names readers accept besides the contract's own (older semconv, announced renames,
 * OpenInference, OpenLIT). Emitters never write these.
 */
export const ALIAS_ATTR = {
  system: ATTR_GEN_AI_SYSTEM,
  promptTokens: ATTR_GEN_AI_USAGE_PROMPT_TOKENS,
  completionTokens: ATTR_GEN_AI_USAGE_COMPLETION_TOKENS,
  cacheWriteInputTokens: 'gen_ai.usage.cache_write.input_tokens',
  openLitCost: 'gen_ai.usage.cost',
  openInferenceSpanKind: 'openinference.span.kind',
  openInferenceModelName: 'llm.model_name',
  openInferenceProvider: 'llm.provider',
  openInferenceSystem: 'llm.system',
  openInferencePromptTokens: 'llm.token_count.prompt',
  openInferenceCompletionTokens: 'llm.token_count.completion',
  openInferenceTotalTokens: 'llm.token_count.total',
  openInferenceCacheReadTokens: 'llm.token_count.prompt_details.cache_read',
  openInferenceCacheWriteTokens: 'llm.token_count.prompt_details.cache_write',
  openInferenceReasoningTokens: 'llm.token_count.completion_details.reasoning',
  /** OpenLLMetry and OpenLIT (Python) name reasoning tokens so; older OpenLLMetry, cache reads so. */
  reasoningTokens: 'gen_ai.usage.reasoning_tokens',
  cacheReadInputTokensOld: 'gen_ai.usage.cache_read_input_tokens',
  /** OpenLLMetry (Anthropic, Bedrock) from 2024-10 until its GenAI semconv migration (2026-03): cache writes. */
  cacheCreationInputTokensOld: 'gen_ai.usage.cache_creation_input_tokens',
  /**
   * OpenLLMetry (Python) up to 0.54: the call's kind (`chat`, `completion`, `embedding`, `rerank`) where
   * later versions set `gen_ai.operation.name`, its total and its reasoning tokens.
   */
  llmRequestType: 'llm.request.type',
  llmUsageTotalTokens: 'llm.usage.total_tokens',
  llmUsageReasoningTokens: 'llm.usage.reasoning_tokens',
  /** OpenLLMetry's client base URL: the endpoint when `server.address` is absent. */
  openAiApiBase: 'gen_ai.openai.api_base',
  /** Pydantic Logfire: its span type (`log` and `pending_span` records repeat or annotate a call) and cost. */
  logfireSpanType: 'logfire.span_type',
  logfireCost: 'operation.cost',
  /** Total tokens (input + output): used only when an emitter leaves out the input count. */
  totalTokens: 'gen_ai.usage.total_tokens',
  openInferenceEmbeddingModelName: 'embedding.model_name',
  vercelTotalTokens: 'ai.usage.totalTokens',
  /** The endpoint called: decides the provider of an OpenAI-compatible client (`resolveProviderName`). */
  serverAddress: 'server.address',
  serverPort: 'server.port',
  /** Vercel AI SDK 4-6 (`experimental_telemetry`): `ai.*` span attributes. */
  vercelOperationId: 'ai.operationId',
  vercelModelProvider: 'ai.model.provider',
  vercelModelId: 'ai.model.id',
  vercelInputTokens: 'ai.usage.inputTokens',
  vercelPromptTokens: 'ai.usage.promptTokens',
  vercelEmbeddingTokens: 'ai.usage.tokens',
  vercelOutputTokens: 'ai.usage.outputTokens',
  vercelCompletionTokens: 'ai.usage.completionTokens',
  vercelCacheReadTokens: 'ai.usage.inputTokenDetails.cacheReadTokens',
  vercelCachedInputTokens: 'ai.usage.cachedInputTokens',
  vercelCacheWriteTokens: 'ai.usage.inputTokenDetails.cacheWriteTokens',
  vercelReasoningTokens: 'ai.usage.outputTokenDetails.reasoningTokens',
  vercelReasoningDetailTokens: 'ai.usage.reasoningTokens',
  /** OpenLIT's span attribute naming itself (`openlit`): its Anthropic input count leaves out the cache. */
  telemetrySdkName: 'telemetry.sdk.name',
  /** JSON of the provider's own response metadata (AI SDK 5-6): Anthropic's raw usage with its cache counts. */
  vercelProviderMetadata: 'ai.response.providerMetadata',
} as const;

/**
 * Content attributes: prompts, replies, instructions and tool schemas. Never emitted unless the
 * operator turns content capture on; the collector deletes them too. Prefix entries end in `*`.
 */
export const CONTENT_ATTRS = [
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  ATTR_GEN_AI_TOOL_DEFINITIONS,
  'gen_ai.prompt*',
  'gen_ai.completion*',
  // OpenLIT events' content, semconv tool-call content.
  'gen_ai.content.*',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
  // OpenInference.
  'llm.input_messages*',
  'llm.output_messages*',
  'llm.prompts*',
  'llm.prompt_template*',
  'input.value',
  'output.value',
  'retrieval.documents*',
  'reranker.input_documents*',
  'reranker.output_documents*',
  'reranker.query',
  'embedding.embeddings*',
  // OpenLLMetry (Traceloop) workflow and task input/output.
  'traceloop.entity.input',
  'traceloop.entity.output',
  // Vercel AI SDK 4-6 (`ai.*` span attributes).
  'ai.prompt*',
  'ai.response.text',
  'ai.response.toolCalls',
  'ai.response.object',
  'ai.response.reasoning*',
  'ai.toolCall.args',
  'ai.toolCall.result',
  'ai.value',
  'ai.values',
  'ai.embedding',
  'ai.embeddings',
] as const;

const CONTENT_EXACT: ReadonlySet<string> = new Set(CONTENT_ATTRS.filter((n) => !n.endsWith('*')));
const CONTENT_PREFIXES: readonly string[] = CONTENT_ATTRS.filter((n) => n.endsWith('*')).map((n) =>
  n.slice(0, -1),
);

/** Whether an attribute name is content (a CONTENT_ATTRS name, or under one of its prefixes). */
export function isContentAttribute(key: string): boolean {
  return CONTENT_EXACT.has(key) || CONTENT_PREFIXES.some((p) => key.startsWith(p));
}

export const OPERATION_NAMES = ['chat', 'text_completion', 'generate_content', 'embeddings', 'ocr'] as const;
export type OperationName = (typeof OPERATION_NAMES)[number];

/** The inference operations (calls): every other operation sums or wraps calls, or is not one. */
export const INFERENCE_OPERATIONS: ReadonlySet<string> = new Set(OPERATION_NAMES);

/**
 * Other emitters' names of the semconv inference operations: Spring AI's `AiOperationType.EMBEDDING`
 * (spring-ai-commons `AiOperationType.java`), Semantic Kernel's (`ModelDiagnostics.cs`).
 */
export const OPERATION_ALIASES: ReadonlyMap<string, string> = new Map([
  ['embedding', 'embeddings'],
  ['chat.completions', 'chat'],
  ['text.completions', 'text_completion'],
]);

/** The semconv name of a reported `gen_ai.operation.name` (itself when it has no other name). */
export function canonicalOperation(operation: string): string {
  if (operation === '' || INFERENCE_OPERATIONS.has(operation)) return operation;
  return OPERATION_ALIASES.get(operation) ?? operation;
}

/**
 * Vercel AI SDK 4-6 spans: the provider call is the inner `….doGenerate` / `….doStream` / `….doEmbed`
 * span; the outer `ai.generateText`, `ai.streamText`, `ai.embedMany`, `ai.toolCall` sum or wrap them.
 */
export function vercelOperation(operationId: string): string {
  if (operationId === '') return '';
  if (operationId.endsWith('.doGenerate') || operationId.endsWith('.doStream')) return 'chat';
  if (operationId.endsWith('.doEmbed')) return 'embeddings';
  return '';
}

/**
 * OpenLLMetry (Python) up to 0.54 set no `gen_ai.operation.name` on its provider spans, only
 * `llm.request.type` (semconv_ai `LLMRequestTypeValues`); `rerank` and `unknown` are not token calls.
 */
export const LLM_REQUEST_TYPES: ReadonlyMap<string, string> = new Map([
  ['chat', 'chat'],
  ['completion', 'text_completion'],
  ['embedding', 'embeddings'],
]);

/** Operations that sum their children and so never carry billable usage of their own. */
export const AGGREGATE_OPERATION_NAMES = [
  'invoke_agent',
  'create_agent',
  'invoke_workflow',
  'execute_tool',
  'agent_step',
] as const;

/**
 * How a record's usage is known: `exact` (reported by the provider), `estimated` (a tokenizer's count),
 * `total_only` (only a total was reported: counted as input tokens, so its cost is a lower bound),
 * `unknown` (the call happened, but its emitter reported no usage: a failed call, a stream without usage;
 * its tokens and cost are unknown, never 0).
 */
export const USAGE_TYPES = ['exact', 'estimated', 'total_only', 'unknown'] as const;
export type UsageType = (typeof USAGE_TYPES)[number];

export const SERVICE_TYPES = ['llm', 'embedding', 'ocr'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

/**
 * Token partition used in metrics and rollups. The five parts sum to input + output tokens, so no
 * cached or reasoning token is counted or priced twice.
 */
export const TOKEN_TYPES = ['input', 'cache_read', 'cache_write', 'output', 'reasoning'] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];

export const STATUSES = ['ok', 'error'] as const;
export type Status = (typeof STATUSES)[number];

/** Well-known `gen_ai.provider.name` values. */
export const PROVIDER_NAMES = [
  'openai',
  'anthropic',
  'gcp.gemini',
  'gcp.vertex_ai',
  'aws.bedrock',
  'azure.ai.openai',
  'mistral_ai',
  'cohere',
  'groq',
  'deepseek',
  'x_ai',
] as const;

/** Token counts of one call, in the semantic-convention sense (inputs include cache, outputs include reasoning). */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  reasoningOutputTokens: number;
}

/** Splits semconv token counts into the disjoint partition that metrics and pricing use. */
export function partitionTokens(t: TokenCounts): Record<TokenType, number> {
  const cached = t.cacheReadInputTokens + t.cacheCreationInputTokens;
  return {
    input: Math.max(0, t.inputTokens - cached),
    cache_read: t.cacheReadInputTokens,
    cache_write: t.cacheCreationInputTokens,
    output: Math.max(0, t.outputTokens - t.reasoningOutputTokens),
    reasoning: t.reasoningOutputTokens,
  };
}
