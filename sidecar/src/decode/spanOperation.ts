/**
 * Which operation a span or log record reports, under every emitter's name for it: semconv's
 * `gen_ai.operation.name`, other emitters' names for the same operations, OpenLLMetry's older
 * `llm.request.type`, the Vercel AI SDK 4-6 `ai.operationId`, the model of an AWS SDK InvokeModel span.
 */

// The operation names readers share with the SDK (which marks another instrumentation's inference span
// of a call it records by the same rules): defined once in the contract.
export {
  canonicalOperation,
  INFERENCE_OPERATIONS,
  LLM_REQUEST_TYPES,
  vercelOperation,
} from '@spendline/sdk/contract';

/**
 * OpenLLMetry's Responses API span: up to 0.54 it carried neither `gen_ai.operation.name` nor
 * `llm.request.type` (v1/responses_wrappers.py). Its OpenAI instrumentation's spans are all calls.
 */
export const OPENLLMETRY_RESPONSES_SPAN = 'openai.response';
export const OPENLLMETRY_OPENAI_SCOPE = 'opentelemetry.instrumentation.openai.';

/** Tracer name of `@opentelemetry/instrumentation-aws-sdk`. */
export const AWS_SDK_SCOPE = '@opentelemetry/instrumentation-aws-sdk';
/** Bedrock models whose InvokeModel call makes images or video: billed per image, no token call. */
const BEDROCK_MEDIA_MODEL = /image-generator|nova-canvas|nova-reel|(?:^|[./])stability\./;

/**
 * `@opentelemetry/instrumentation-aws-sdk`'s Bedrock Runtime extension sets `gen_ai.operation.name` on
 * Converse and ConverseStream spans only; its InvokeModel spans (`BedrockRuntime.InvokeModel`,
 * `BedrockRuntime.InvokeModelWithResponseStream`, with `gen_ai.system` and the model id) carry none
 * (services/bedrock-runtime.ts `requestPreSpanHookInvokeModel`). The model id says which call it was:
 * an embedding model (`amazon.titan-embed-…`, `cohere.embed-…`), an image or video model (not a token
 * call), else a text model's chat.
 */
export function awsSdkInvokeModelOperation(spanName: unknown, requestModel: string): string {
  if (typeof spanName !== 'string' || requestModel === '') return '';
  if (!spanName.endsWith('.InvokeModel') && !spanName.endsWith('.InvokeModelWithResponseStream')) return '';
  if (requestModel.includes('embed')) return 'embeddings';
  return BEDROCK_MEDIA_MODEL.test(requestModel) ? '' : 'chat';
}
