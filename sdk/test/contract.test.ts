import { describe, expect, it } from 'vitest';
import {
  ALIAS_ATTR,
  ATTR,
  CONTENT_ATTRS,
  OPERATION_NAMES,
  partitionTokens,
  RESOURCE_ATTR,
  SERVICE_TYPES,
  TOKEN_TYPES,
  USAGE_EVENT_NAME,
  USAGE_TYPES,
} from '../src/contract.js';
import * as sdk from '../src/index.js';

// Pins every name to the table in shared/design.md ("The usage record").
describe('usage-record contract', () => {
  it('uses the GenAI semantic-convention event name', () => {
    expect(USAGE_EVENT_NAME).toBe('gen_ai.client.inference.operation.details');
  });

  it('names every attribute exactly as the design table does', () => {
    expect(ATTR).toEqual({
      operationName: 'gen_ai.operation.name',
      providerName: 'gen_ai.provider.name',
      requestModel: 'gen_ai.request.model',
      responseModel: 'gen_ai.response.model',
      inputTokens: 'gen_ai.usage.input_tokens',
      outputTokens: 'gen_ai.usage.output_tokens',
      cacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
      cacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
      reasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
      conversationId: 'gen_ai.conversation.id',
      agentName: 'gen_ai.agent.name',
      errorType: 'error.type',
      userId: 'user.id',
      sessionId: 'session.id',
      usageId: 'spendline.usage.id',
      usageType: 'spendline.usage.type',
      serviceType: 'spendline.service.type',
      costUsd: 'spendline.cost.usd',
      costSource: 'spendline.cost.source',
      durationMs: 'spendline.duration.ms',
      ttftMs: 'spendline.ttft.ms',
      feature: 'spendline.feature',
      taskId: 'spendline.task.id',
      tenantId: 'spendline.tenant.id',
      executionPath: 'spendline.execution_path',
      ocrPages: 'spendline.ocr.pages',
      embeddingInputs: 'spendline.embedding.inputs',
      requestTools: 'spendline.request.tools',
      requestStructuredOutput: 'spendline.request.structured_output',
      requestSearchGrounding: 'spendline.request.search_grounding',
      budgetExceeded: 'spendline.budget.exceeded',
      sdkRecorded: 'spendline.sdk.recorded',
    });
  });

  it('names the resource attributes', () => {
    expect(RESOURCE_ATTR).toEqual({
      serviceName: 'service.name',
      serviceVersion: 'service.version',
      deploymentEnvironmentName: 'deployment.environment.name',
    });
  });

  it('accepts the aliases readers must tolerate', () => {
    expect(ALIAS_ATTR.system).toBe('gen_ai.system');
    expect(ALIAS_ATTR.promptTokens).toBe('gen_ai.usage.prompt_tokens');
    expect(ALIAS_ATTR.completionTokens).toBe('gen_ai.usage.completion_tokens');
    expect(ALIAS_ATTR.cacheWriteInputTokens).toBe('gen_ai.usage.cache_write.input_tokens');
    expect(ALIAS_ATTR.openLitCost).toBe('gen_ai.usage.cost');
    expect(ALIAS_ATTR.openInferenceModelName).toBe('llm.model_name');
    expect(ALIAS_ATTR.openInferenceProvider).toBe('llm.provider');
    expect(ALIAS_ATTR.openInferencePromptTokens).toBe('llm.token_count.prompt');
    expect(ALIAS_ATTR.openInferenceCompletionTokens).toBe('llm.token_count.completion');
  });

  it('lists the content attributes that never leave a service by default', () => {
    expect([...CONTENT_ATTRS]).toEqual([
      'gen_ai.input.messages',
      'gen_ai.output.messages',
      'gen_ai.system_instructions',
      'gen_ai.tool.definitions',
      'gen_ai.prompt*',
      'gen_ai.completion*',
      'gen_ai.content.*',
      'gen_ai.tool.call.arguments',
      'gen_ai.tool.call.result',
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
      'traceloop.entity.input',
      'traceloop.entity.output',
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
    ]);
  });

  it('enumerates operations, usage types, service types and token types', () => {
    expect([...OPERATION_NAMES]).toEqual([
      'chat',
      'text_completion',
      'generate_content',
      'embeddings',
      'ocr',
    ]);
    expect([...USAGE_TYPES]).toEqual(['exact', 'estimated', 'total_only', 'unknown']);
    expect([...SERVICE_TYPES]).toEqual(['llm', 'embedding', 'ocr']);
    expect([...TOKEN_TYPES]).toEqual(['input', 'cache_read', 'cache_write', 'output', 'reasoning']);
  });

  it('partitions tokens so the parts sum to the total and nothing counts twice', () => {
    const parts = partitionTokens({
      inputTokens: 1200,
      outputTokens: 500,
      cacheReadInputTokens: 800,
      cacheCreationInputTokens: 100,
      reasoningOutputTokens: 320,
    });
    expect(parts).toEqual({ input: 300, cache_read: 800, cache_write: 100, output: 180, reasoning: 320 });
    expect(Object.values(parts).reduce((a, b) => a + b, 0)).toBe(1700);
  });

  it('is exported from the package entry point', () => {
    expect(sdk.ATTR).toBe(ATTR);
    expect(sdk.USAGE_EVENT_NAME).toBe(USAGE_EVENT_NAME);
  });
});
