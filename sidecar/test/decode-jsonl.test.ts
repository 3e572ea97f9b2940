import { describe, expect, it } from 'vitest';
import { decodeUsageJsonlLine, sourceNameOfPath, type UsageRecord } from '../src/decode/index.js';

const line = (o: Record<string, unknown>) => JSON.stringify(o);
const BASE = { ts: '2026-03-01T12:00:00.250Z', provider: 'openai', model: 'gpt-4o-mini' };

function only(text: string): UsageRecord {
  const out = decodeUsageJsonlLine(text);
  expect(out.rejected).toEqual([]);
  expect(out.records).toHaveLength(1);
  return out.records[0] as UsageRecord;
}

function rejection(text: string) {
  const out = decodeUsageJsonlLine(text);
  expect(out.records).toEqual([]);
  expect(out.rejected).toHaveLength(1);
  return out.rejected[0]?.reason;
}

describe('decodeUsageJsonlLine', () => {
  it('reads the documented schema: usage block, agent, execution path, task, run, usage type, cost', () => {
    const r = only(
      line({
        ...BASE,
        agent: 'researcher',
        execution_path: 'plan/research',
        usage_type: 'estimated',
        usage: { prompt_tokens: 1000, completion_tokens: 250, total_tokens: 1250, cost_usd: 0.00042 },
        task_id: 'T-7',
        run_id: 'run-42',
      }),
    );
    expect(r).toEqual({
      dedupKey: r.dedupKey,
      source: 'jsonl',
      timestampMs: Date.UTC(2026, 2, 1, 12, 0, 0, 250),
      provider: 'openai',
      requestModel: 'gpt-4o-mini',
      responseModel: '',
      operation: 'chat',
      serviceType: 'llm',
      service: 'unknown_service',
      serviceVersion: '',
      environment: '',
      status: 'ok',
      errorType: '',
      usageType: 'estimated',
      tokens: {
        inputTokens: 1000,
        outputTokens: 250,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
        reasoningOutputTokens: 0,
      },
      ocrPages: 0,
      embeddingInputs: 0,
      emitterCostNanoUsd: 420_000,
      durationMs: null,
      ttftMs: null,
      userId: '',
      sessionId: '',
      feature: '',
      taskId: 'T-7',
      tenantId: '',
      agentName: 'researcher',
      executionPath: 'plan/research',
      conversationId: 'run-42',
      sourceName: '',
    } satisfies UsageRecord);
    expect(r.dedupKey).toMatch(/^jsonl:[0-9a-f]{32}$/);
  });

  it('accepts the alternates: timestamp/time in s, ms or ISO, top-level input/output tokens, cost', () => {
    const a = only(
      line({
        timestamp: 1772366400,
        provider: 'anthropic',
        model: 'm',
        input_tokens: 5,
        output_tokens: 6,
        cost: '0.1',
      }),
    );
    const b = only(
      line({ time: 1772366400250, provider: 'anthropic', model: 'm', usage: { input_tokens: 7 } }),
    );
    const c = only(line({ ts: '1772366400', provider: 'x', model: 'm' }));
    expect([a.timestampMs, a.tokens.inputTokens, a.tokens.outputTokens, a.emitterCostNanoUsd]).toEqual([
      1772366400000, 5, 6, 100_000_000,
    ]);
    expect([b.timestampMs, b.tokens.inputTokens, b.emitterCostNanoUsd]).toEqual([1772366400250, 7, null]);
    expect(c.timestampMs).toBe(1772366400000);
  });

  it('reads cache, reasoning, service, user, feature, error and latency fields', () => {
    const r = only(
      line({
        ...BASE,
        service: 'batch-jobs',
        user_id: 'u9',
        feature: 'summaries',
        tenant_id: 't1',
        operation: 'embeddings',
        usage: {
          prompt_tokens: 100,
          completion_tokens: 40,
          cached_tokens: 60,
          cache_creation_input_tokens: 10,
          reasoning_tokens: 30,
        },
        error: 'timeout',
        duration_ms: 812,
        ttft_ms: 90,
      }),
    );
    expect(r.tokens).toEqual({
      inputTokens: 100,
      outputTokens: 40,
      cacheReadInputTokens: 60,
      cacheCreationInputTokens: 10,
      reasoningOutputTokens: 30,
    });
    expect([r.service, r.userId, r.feature, r.tenantId, r.operation, r.serviceType]).toEqual([
      'batch-jobs',
      'u9',
      'summaries',
      't1',
      'embeddings',
      'embedding',
    ]);
    expect([r.status, r.errorType, r.durationMs, r.ttftMs]).toEqual(['error', 'timeout', 812, 90]);
    expect(only(line({ ...BASE, status: 'error' })).errorType).toBe('_OTHER');
  });

  it('keys by id when there is one, else by a hash of the line (same line, same key)', () => {
    expect(only(line({ ...BASE, id: 'req-1' })).dedupKey).toBe('jsonl:req-1');
    expect(only(line({ ...BASE, usage_id: 'u-2' })).dedupKey).toBe('jsonl:u-2');
    const k1 = only(line({ ...BASE, run_id: 'r' })).dedupKey;
    expect(only(line({ ...BASE, run_id: 'r' })).dedupKey).toBe(k1);
    expect(only(line({ ...BASE, run_id: 'r', usage: { prompt_tokens: 1 } })).dedupKey).not.toBe(k1);
  });

  it('tolerates the multi-source variants: token_usage, estimated: true, model_name, total_tokens only', () => {
    const a = only(
      line({
        ts: BASE.ts,
        provider: 'openai',
        model_name: 'gpt-4o-mini',
        token_usage: { input_tokens: 10, output_tokens: 4 },
        estimated: true,
      }),
    );
    expect([a.requestModel, a.tokens.inputTokens, a.tokens.outputTokens, a.usageType]).toEqual([
      'gpt-4o-mini',
      10,
      4,
      'estimated',
    ]);
    // Only a total: counted (as input, the split is unknown) and labelled total_only, never exact.
    const t = only(line({ ...BASE, usage: { total_tokens: 1250 } }));
    expect([t.tokens.inputTokens, t.tokens.outputTokens, t.usageType]).toEqual([1250, 0, 'total_only']);
    const top = only(line({ ...BASE, total_tokens: '99' }));
    expect([top.tokens.inputTokens, top.usageType]).toEqual([99, 'total_only']);
    // A total beside the split is not used; a declared usage_type wins.
    const both = only(line({ ...BASE, usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }));
    expect([both.tokens.inputTokens, both.tokens.outputTokens, both.usageType]).toEqual([3, 2, 'exact']);
    expect(only(line({ ...BASE, usage_type: 'estimated', usage: { total_tokens: 7 } })).usageType).toBe(
      'estimated',
    );
    // No usage at all: a call whose usage is unknown, not 0 exact tokens.
    expect(only(line({ ...BASE, error_type: 'RateLimitError' })).usageType).toBe('unknown');
    expect(only(line({ ...BASE, usage: { prompt_tokens: 0, completion_tokens: 0 } })).usageType).toBe(
      'exact',
    );
    expect(rejection(line({ ...BASE, estimated: 'yes' }))).toBe('bad_type');
    expect(rejection(line({ ...BASE, token_usage: [1] }))).toBe('bad_type');
  });

  it('keeps agent, execution path and source; the source defaults to the file source name', () => {
    const withSource = decodeUsageJsonlLine(
      line({ ...BASE, agent: 'researcher', execution_path: 'plan/search', source: 'claude-code' }),
      'agents',
    ).records[0];
    expect([withSource?.agentName, withSource?.executionPath, withSource?.sourceName]).toEqual([
      'researcher',
      'plan/search',
      'claude-code',
    ]);
    expect(decodeUsageJsonlLine(line(BASE), 'agents').records[0]?.sourceName).toBe('agents');
    expect(sourceNameOfPath('/var/log/agents/researcher.jsonl.1')).toBe('researcher');
    expect(sourceNameOfPath('logs/claude-code.2026-01-02.jsonl')).toBe('claude-code');
    expect(sourceNameOfPath('usage.ndjson')).toBe('usage');
  });

  it('yields nothing for a blank line', () => {
    expect(decodeUsageJsonlLine('   ')).toEqual({ records: [], rejected: [], ignored: 0 });
  });

  it('rejects by reason', () => {
    expect(rejection('{"ts":')).toBe('bad_json');
    expect(rejection('[1]')).toBe('bad_type');
    expect(rejection(line({ ...BASE, usage: 5 }))).toBe('bad_type');
    expect(rejection(line({ ...BASE, usage: { prompt_tokens: 'lots' } }))).toBe('bad_type');
    expect(rejection(line({ ...BASE, usage_type: 'vibes' }))).toBe('bad_type');
    expect(rejection(line({ ...BASE, cost: 'free' }))).toBe('bad_type');
    expect(rejection(line({ ...BASE, usage: { prompt_tokens: -3 } }))).toBe('negative_tokens');
    expect(rejection(line({ ...BASE, usage: { completion_tokens: 2.5 } }))).toBe('fractional_tokens');
    expect(rejection(line({ ...BASE, usage: { prompt_tokens: 100_000_001 } }))).toBe('absurd_tokens');
    expect(rejection(line({ ...BASE, usage: { prompt_tokens: 10, cached_tokens: 11 } }))).toBe(
      'inconsistent_tokens',
    );
    expect(rejection(line({ ...BASE, usage: { completion_tokens: 1, reasoning_tokens: 2 } }))).toBe(
      'inconsistent_tokens',
    );
    expect(rejection(line({ ts: BASE.ts, provider: 'openai' }))).toBe('missing_model');
    expect(rejection(line({ ts: BASE.ts, model: 'm' }))).toBe('missing_provider');
    expect(rejection(line({ provider: 'p', model: 'm' }))).toBe('bad_timestamp');
    expect(rejection(line({ ...BASE, ts: 'soon' }))).toBe('bad_timestamp');
  });
});
