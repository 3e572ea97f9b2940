import { type FakeReply, sendJson, writeSse } from './fakeOpenAI.js';
import type { ResolvedBehaviour } from './fakeUsage.js';
import { replyDeltas } from './fakeUsage.js';

/** Anthropic's `input_tokens` excludes cache reads and writes; the fake reports it that way. */
function anthropicInputTokens(b: ResolvedBehaviour): number {
  return b.usage.inputTokens - b.usage.cachedTokens - b.usage.cacheCreationTokens;
}

function firstToolName(body: Record<string, unknown>): string | undefined {
  if (!Array.isArray(body.tools) || body.tools.length === 0) return undefined;
  const name = (body.tools[0] as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

/** POST /v1/messages */
export function answerMessages({ res, body, b, abortAfter, eventDelayMs, id }: FakeReply): void {
  const tool = firstToolName(body);
  // Extended thinking's share of the output, as the real API reports it (a null breakdown without thinking).
  const outputDetails = b.usage.reasoningTokens > 0 ? { thinking_tokens: b.usage.reasoningTokens } : null;
  const usage = {
    input_tokens: anthropicInputTokens(b),
    cache_creation_input_tokens: b.usage.cacheCreationTokens,
    cache_read_input_tokens: b.usage.cachedTokens,
    output_tokens: b.usage.outputTokens,
    output_tokens_details: outputDetails,
  };
  const content = tool
    ? [{ type: 'tool_use', id: 'toolu_fake_1', name: tool, input: { query: 'spendline' } }]
    : [{ type: 'text', text: b.reply }];
  const stopReason = tool ? 'tool_use' : 'end_turn';
  if (body.stream !== true) {
    sendJson(res, 200, {
      id,
      type: 'message',
      role: 'assistant',
      model: b.responseModel,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage,
    });
    return;
  }
  const ev = (type: string, data: Record<string, unknown>) => ({
    event: type,
    data: JSON.stringify({ type, ...data }),
  });
  const events = [
    ev('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model: b.responseModel,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // As the real API does: message_start carries the input side and a provisional output count.
        usage: { ...usage, output_tokens: 1, output_tokens_details: null },
      },
    }),
  ];
  if (tool) {
    events.push(
      ev('content_block_start', {
        index: 0,
        content_block: { type: 'tool_use', id: 'toolu_fake_1', name: tool, input: {} },
      }),
    );
    events.push(
      ev('content_block_delta', {
        index: 0,
        delta: { type: 'input_json_delta', partial_json: '{"query":"spendline"}' },
      }),
    );
  } else {
    events.push(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    events.push(ev('ping', {}));
    for (const d of replyDeltas(b.reply))
      events.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: d } }));
  }
  events.push(ev('content_block_stop', { index: 0 }));
  events.push(
    ev('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: b.usage.outputTokens, output_tokens_details: outputDetails },
    }),
  );
  events.push(ev('message_stop', {}));
  writeSse(res, events, abortAfter, eventDelayMs);
}

/** Anthropic-shaped error body. */
export function anthropicError(status: number): Record<string, unknown> {
  const type = status === 429 ? 'rate_limit_error' : status === 529 ? 'overloaded_error' : 'api_error';
  return { type: 'error', error: { type, message: `fake ${status}` } };
}
