import type { ServerResponse } from 'node:http';
import { type ResolvedBehaviour, replyDeltas } from './fakeUsage.js';

/** What a responder needs to write an answer; `abortAfter` destroys the socket after that many events. */
export interface FakeReply {
  res: ServerResponse;
  body: Record<string, unknown>;
  b: ResolvedBehaviour;
  abortAfter: number | undefined;
  /** Pause between stream events (ms); 0 = as fast as possible. */
  eventDelayMs: number;
  id: string;
  created: number;
}

export function sendJson(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': `req_fake_${status}`,
  });
  res.end(text);
}

/** Writes SSE events; stops and destroys the connection after `abortAfter` events (mid-stream failure). */
export function writeSse(
  res: ServerResponse,
  events: { event?: string; data: string }[],
  abortAfter: number | undefined,
  eventDelayMs = 0,
): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  let i = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (abortAfter !== undefined && i >= abortAfter) {
      res.socket?.destroy();
      return;
    }
    const e = events[i++];
    if (!e) {
      res.end();
      return;
    }
    res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${e.data}\n\n`);
    if (eventDelayMs > 0) setTimeout(next, eventDelayMs);
    else setImmediate(next);
  };
  next();
}

function chatUsage(b: ResolvedBehaviour): Record<string, unknown> {
  const u = b.usage;
  return {
    prompt_tokens: u.inputTokens,
    completion_tokens: u.outputTokens,
    total_tokens: u.inputTokens + u.outputTokens,
    // cache_write_tokens (typed by openai 7.40 and later): part of prompt_tokens, as cached_tokens is.
    prompt_tokens_details: {
      cached_tokens: u.cachedTokens,
      cache_write_tokens: u.cacheCreationTokens,
      audio_tokens: 0,
    },
    completion_tokens_details: {
      reasoning_tokens: u.reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function firstToolName(body: Record<string, unknown>): string | undefined {
  if (!Array.isArray(body.tools) || body.tools.length === 0 || body.tool_choice === 'none') return undefined;
  const t = body.tools[0] as { function?: { name?: unknown }; name?: unknown };
  const name = t.function?.name ?? t.name;
  return typeof name === 'string' ? name : undefined;
}

export const FAKE_TOOL_ARGUMENTS = '{"query":"spendline"}';

/** POST /v1/chat/completions */
export function answerChat({ res, body, b, abortAfter, eventDelayMs, id, created }: FakeReply): void {
  const tool = firstToolName(body);
  const toolCall = tool
    ? { id: 'call_fake_1', type: 'function', function: { name: tool, arguments: FAKE_TOOL_ARGUMENTS } }
    : undefined;
  const finish = tool ? 'tool_calls' : 'stop';
  if (body.stream !== true) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: b.responseModel,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: tool ? null : b.reply,
            refusal: null,
            ...(toolCall ? { tool_calls: [toolCall] } : {}),
          },
          logprobs: null,
          finish_reason: finish,
        },
      ],
      usage: chatUsage(b),
      system_fingerprint: 'fp_fake',
    });
    return;
  }
  const opts = body.stream_options as { include_usage?: boolean } | undefined;
  const includeUsage = opts?.include_usage === true;
  const chunk = (delta: Record<string, unknown>, finishReason: string | null): string =>
    JSON.stringify({
      id,
      object: 'chat.completion.chunk',
      created,
      model: b.responseModel,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    });
  const events: { data: string }[] = [
    { data: chunk({ role: 'assistant', content: tool ? null : '' }, null) },
  ];
  if (toolCall) {
    events.push({
      data: chunk(
        {
          tool_calls: [
            { index: 0, id: toolCall.id, type: 'function', function: { name: tool, arguments: '' } },
          ],
        },
        null,
      ),
    });
    events.push({
      data: chunk({ tool_calls: [{ index: 0, function: { arguments: FAKE_TOOL_ARGUMENTS } }] }, null),
    });
  } else {
    for (const d of replyDeltas(b.reply)) events.push({ data: chunk({ content: d }, null) });
  }
  events.push({ data: chunk({}, finish) });
  if (includeUsage) {
    events.push({
      data: JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: b.responseModel,
        system_fingerprint: 'fp_fake',
        choices: [],
        usage: chatUsage(b),
      }),
    });
  }
  events.push({ data: '[DONE]' });
  writeSse(res, events, abortAfter, eventDelayMs);
}

function responsesUsage(b: ResolvedBehaviour): Record<string, unknown> {
  const u = b.usage;
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens, cache_write_tokens: u.cacheCreationTokens },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

/** POST /v1/responses */
export function answerResponses({ res, body, b, abortAfter, eventDelayMs, id, created }: FakeReply): void {
  const msgId = `msg_${id}`;
  const response = (status: string, done: boolean): Record<string, unknown> => ({
    id,
    object: 'response',
    created_at: created,
    status,
    model: b.responseModel,
    output: done
      ? [
          {
            type: 'message',
            id: msgId,
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: b.reply, annotations: [], logprobs: [] }],
          },
        ]
      : [],
    usage: done ? responsesUsage(b) : null,
    error: null,
    incomplete_details: null,
    instructions: null,
    metadata: {},
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
  });
  if (body.stream !== true) {
    sendJson(res, 200, response('completed', true));
    return;
  }
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) => ({
    event: type,
    data: JSON.stringify({ type, sequence_number: seq++, ...data }),
  });
  // The real API's sequence: openai 7's ResponseStream rebuilds the response from it and rejects a
  // text delta whose content part was never added.
  const where = { item_id: msgId, output_index: 0, content_index: 0 };
  const item = (status: string, content: unknown[]) => ({
    type: 'message',
    id: msgId,
    status,
    role: 'assistant',
    content,
  });
  const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const events = [
    ev('response.created', { response: response('in_progress', false) }),
    ev('response.in_progress', { response: response('in_progress', false) }),
    ev('response.output_item.added', { output_index: 0, item: item('in_progress', []) }),
    ev('response.content_part.added', { ...where, part: part('') }),
  ];
  for (const d of replyDeltas(b.reply)) {
    events.push(ev('response.output_text.delta', { ...where, delta: d, logprobs: [] }));
  }
  events.push(ev('response.output_text.done', { ...where, text: b.reply, logprobs: [] }));
  events.push(ev('response.content_part.done', { ...where, part: part(b.reply) }));
  events.push(ev('response.output_item.done', { output_index: 0, item: item('completed', [part(b.reply)]) }));
  events.push(ev('response.completed', { response: response('completed', true) }));
  writeSse(res, events, abortAfter, eventDelayMs);
}

/** Deterministic vector: 8 floats per input. */
function vector(index: number): number[] {
  return Array.from({ length: 8 }, (_, i) => (index + 1) * 0.125 + i * 0.0625);
}

/** POST /v1/embeddings (float or base64 encoding, as the openai client requests). */
export function answerEmbeddings({ res, body, b }: FakeReply): void {
  const input = body.input;
  const count = Array.isArray(input) ? input.length : 1;
  const base64 = body.encoding_format === 'base64';
  sendJson(res, 200, {
    object: 'list',
    model: b.responseModel,
    data: Array.from({ length: count }, (_, index) => ({
      object: 'embedding',
      index,
      embedding: base64
        ? Buffer.from(new Float32Array(vector(index)).buffer).toString('base64')
        : vector(index),
    })),
    usage: { prompt_tokens: b.usage.inputTokens, total_tokens: b.usage.inputTokens },
  });
}
