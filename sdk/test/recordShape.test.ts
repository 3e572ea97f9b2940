import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR, USAGE_EVENT_NAME } from '../src/contract.js';
import { withUsageContext } from '../src/index.js';
import { nanoToUsd } from '../src/money.js';
import { priceUsage } from '../src/pricing/index.js';
import { type Harness, startHarness } from './support/harness.js';
import type { CapturedLog, CapturedSpan } from './support/otlpReceiver.js';

// The whole record of one instrumented call, pinned attribute by attribute: the record path is
// tuned for speed (span attributes set after start, the APIPromise's parse step extended in place),
// and none of that may change what the span and the log record carry.
const MODELS = {
  'o3-mini': {
    usage: { inputTokens: 1200, outputTokens: 300, cachedTokens: 1024, reasoningTokens: 192 },
    responseModel: 'o3-mini-2025-01-31',
  },
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ models: MODELS });
});
afterAll(async () => {
  await h.close();
});

async function recordsOf(call: () => Promise<unknown>): Promise<{ log: CapturedLog; span: CapturedSpan }[]> {
  const before = (await h.collect()).logs.length;
  await withUsageContext({ userId: 'u-7', feature: 'search', taskId: 't-1' }, call);
  const { logs, spans } = await h.collect();
  return logs.slice(before).map((log) => {
    const span = spans.find((s) => s.spanId === log.spanId);
    if (!span) throw new Error(`no span for log record ${log.spanId}`);
    return { log, span };
  });
}

/** Exact cost from the BigInt pricing path (the record path takes the safe-integer one). */
function expectedCostUsd(): number {
  const r = priceUsage(
    {
      inputTokens: 1200,
      outputTokens: 300,
      cacheReadInputTokens: 1024,
      cacheCreationInputTokens: 0,
      reasoningOutputTokens: 192,
    },
    { provider: 'openai', model: 'o3-mini-2025-01-31' },
  );
  if (r.status !== 'priced') throw new Error('o3-mini is not in the catalog');
  return nanoToUsd(r.costNanoUsd);
}

function expectExactRecord(rec: { log: CapturedLog; span: CapturedSpan }, extra: Record<string, unknown>) {
  const { log, span } = rec;
  const { [ATTR.usageId]: usageId, [ATTR.durationMs]: durationMs, ...rest } = log.attributes;
  expect(usageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(typeof durationMs).toBe('number');
  expect(Number(durationMs)).toBeGreaterThanOrEqual(0);
  expect(rest).toEqual({
    [ATTR.userId]: 'u-7',
    [ATTR.feature]: 'search',
    [ATTR.taskId]: 't-1',
    [ATTR.operationName]: 'chat',
    [ATTR.providerName]: 'openai',
    [ATTR.requestModel]: 'o3-mini',
    [ATTR.responseModel]: 'o3-mini-2025-01-31',
    [ATTR.inputTokens]: 1200,
    [ATTR.outputTokens]: 300,
    [ATTR.cacheReadInputTokens]: 1024,
    [ATTR.reasoningOutputTokens]: 192,
    [ATTR.usageType]: 'exact',
    [ATTR.serviceType]: 'llm',
    [ATTR.costUsd]: expectedCostUsd(),
    [ATTR.costSource]: 'sdk',
    ...extra,
  });
  expect(log.eventName).toBe(USAGE_EVENT_NAME);
  // The span carries the same attributes, not a subset (some are set at start, the rest after).
  expect(span.attributes).toEqual(log.attributes);
  expect(span.name).toBe('chat o3-mini');
  expect(span.kind).toBe(3); // CLIENT
  expect(span.statusCode).toBe(0); // UNSET
  expect(log.traceId).toBe(span.traceId);
}

describe('an instrumented openai chat call: the exact record', () => {
  it('non-streaming: one span and one log record with every contract attribute', async () => {
    let requestId: PropertyDescriptor | undefined;
    const recs = await recordsOf(async () => {
      const res = await h.openai.chat.completions.create({
        model: 'o3-mini',
        messages: [{ role: 'user', content: 'think' }],
      });
      requestId = Object.getOwnPropertyDescriptor(res, '_request_id');
    });
    expect(recs).toHaveLength(1);
    expectExactRecord(recs[0]!, {});
    // The caller still gets openai's parsed object, with its (non-enumerable) request id.
    expect(requestId?.enumerable).toBe(false);
  });

  it('streaming: the same record, plus the time to first token', async () => {
    const recs = await recordsOf(async () => {
      const stream = await h.openai.chat.completions.create({
        model: 'o3-mini',
        messages: [{ role: 'user', content: 'think' }],
        stream: true,
      });
      for await (const _ of stream);
    });
    expect(recs).toHaveLength(1);
    const ttft = recs[0]!.log.attributes[ATTR.ttftMs];
    expect(typeof ttft).toBe('number');
    expectExactRecord(recs[0]!, { [ATTR.ttftMs]: ttft });
  });

  it('withResponse(): the same record, and data and response both reach the caller', async () => {
    let status = 0;
    let total: number | undefined;
    const recs = await recordsOf(async () => {
      const { data, response } = await h.openai.chat.completions
        .create({ model: 'o3-mini', messages: [{ role: 'user', content: 'think' }] })
        .withResponse();
      status = response.status;
      total = data.usage?.total_tokens;
    });
    expect(status).toBe(200);
    expect(total).toBe(1500);
    expect(recs).toHaveLength(1);
    expectExactRecord(recs[0]!, {});
  });

  it('a failed request: one record with error.type, the span marked as an error, the error rethrown', async () => {
    const before = (await h.collect()).logs.length;
    await expect(
      h.openai.chat.completions.create(
        { model: 'o3-mini', messages: [{ role: 'user', content: 'think' }] },
        { headers: { 'x-fake-error': '500' } },
      ),
    ).rejects.toMatchObject({ status: 500 });
    const { logs, spans } = await h.collect();
    const fresh = logs.slice(before);
    expect(fresh).toHaveLength(1);
    const span = spans.find((s) => s.spanId === fresh[0]?.spanId);
    expect(fresh[0]?.attributes[ATTR.errorType]).toBe('500');
    expect(fresh[0]?.attributes[ATTR.inputTokens]).toBeUndefined();
    expect(span?.attributes).toEqual(fresh[0]?.attributes);
    expect(span?.statusCode).toBe(2);
  });
});
