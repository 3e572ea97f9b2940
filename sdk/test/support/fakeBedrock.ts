import { createServer, type Http2ServerRequest, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec } from '@smithy/eventstream-codec';

/** Usage the fake reports, as Bedrock Converse's `usage`. */
export interface BedrockUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

export interface FakeBedrock {
  url: string;
  requests: { path: string; body: string }[];
  close(): Promise<void>;
}

const REPLY = ['Hello ', 'from ', 'fake ', 'Bedrock.'];
const codec = new EventStreamCodec(
  (b) => new TextDecoder().decode(b),
  (s) => new TextEncoder().encode(s),
);

/** One AWS event-stream message (binary framing with prelude and CRCs) of a Converse stream event. */
function eventMessage(type: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: new TextEncoder().encode(JSON.stringify(payload)),
  });
}

function read(req: Http2ServerRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * A loopback Bedrock Runtime over HTTP/2: `POST /model/{id}/converse`, `/converse-stream` (AWS event-stream
 * framing, `application/vnd.amazon.eventstream`), and `/invoke` for Anthropic messages, Titan and
 * Cohere embeddings, with the `X-Amzn-Bedrock-*-Token-Count` headers the real service sends.
 */
export async function startFakeBedrock(usage: BedrockUsage): Promise<FakeBedrock> {
  const requests: FakeBedrock['requests'] = [];
  const converseUsage = {
    ...usage,
    totalTokens:
      usage.inputTokens +
      usage.outputTokens +
      (usage.cacheReadInputTokens ?? 0) +
      (usage.cacheWriteInputTokens ?? 0),
  };
  // HTTP/2 (cleartext, prior knowledge), as the client's default NodeHttp2Handler speaks it.
  const sessions = new Set<Http2Session>();
  const server = createServer((req, res) => {
    void read(req).then((raw) => {
      const path = req.url ?? '';
      requests.push({ path, body: raw });
      const m = /^\/model\/([^/]+)\/([\w-]+)$/.exec(path);
      const model = decodeURIComponent(m?.[1] ?? '');
      const op = m?.[2];
      const json = (payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      };
      if (op === 'converse') {
        json({
          output: { message: { role: 'assistant', content: [{ text: REPLY.join('') }] } },
          stopReason: 'end_turn',
          usage: converseUsage,
          metrics: { latencyMs: 12 },
        });
      } else if (op === 'converse-stream') {
        res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
        res.write(eventMessage('messageStart', { role: 'assistant' }));
        for (const text of REPLY)
          res.write(eventMessage('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }));
        res.write(eventMessage('contentBlockStop', { contentBlockIndex: 0 }));
        res.write(eventMessage('messageStop', { stopReason: 'end_turn' }));
        res.end(eventMessage('metadata', { usage: converseUsage, metrics: { latencyMs: 12 } }));
      } else if (op === 'invoke-with-response-stream' && model.includes('anthropic.')) {
        // Each event's payload is {"bytes": base64(the model's own stream event)}.
        const chunk = (e: unknown) =>
          eventMessage('chunk', { bytes: Buffer.from(JSON.stringify(e)).toString('base64') });
        res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
        res.write(
          chunk({
            type: 'message_start',
            message: {
              id: 'msg_fake',
              type: 'message',
              role: 'assistant',
              model: 'claude-3-5-haiku-20241022',
              content: [],
              usage: {
                input_tokens: usage.inputTokens,
                output_tokens: 1,
                cache_read_input_tokens: usage.cacheReadInputTokens ?? 0,
                cache_creation_input_tokens: usage.cacheWriteInputTokens ?? 0,
              },
            },
          }),
        );
        for (const text of REPLY)
          res.write(chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }));
        res.write(
          chunk({
            type: 'message_delta',
            delta: { stop_reason: 'end_turn' },
            usage: { output_tokens: usage.outputTokens },
          }),
        );
        res.end(
          chunk({
            type: 'message_stop',
            'amazon-bedrock-invocationMetrics': {
              inputTokenCount: usage.inputTokens,
              outputTokenCount: usage.outputTokens,
              invocationLatency: 12,
              firstByteLatency: 3,
            },
          }),
        );
      } else if (op === 'invoke' && model.includes('anthropic.')) {
        const input = usage.inputTokens;
        json(
          {
            id: 'msg_fake',
            type: 'message',
            role: 'assistant',
            model: 'claude-3-5-haiku-20241022',
            content: [{ type: 'text', text: REPLY.join('') }],
            stop_reason: 'end_turn',
            usage: {
              input_tokens: input,
              output_tokens: usage.outputTokens,
              cache_read_input_tokens: usage.cacheReadInputTokens ?? 0,
              cache_creation_input_tokens: usage.cacheWriteInputTokens ?? 0,
            },
          },
          {
            'x-amzn-bedrock-input-token-count': String(input),
            'x-amzn-bedrock-output-token-count': String(usage.outputTokens),
          },
        );
      } else if (op === 'invoke' && model.startsWith('amazon.titan-embed')) {
        json(
          { embedding: [0.1, 0.2], inputTextTokenCount: usage.inputTokens },
          { 'x-amzn-bedrock-input-token-count': String(usage.inputTokens) },
        );
      } else if (op === 'invoke' && model.startsWith('cohere.embed')) {
        const texts = (JSON.parse(raw) as { texts: string[] }).texts;
        json(
          { id: 'fake', response_type: 'embeddings_floats', texts, embeddings: texts.map(() => [0.1, 0.2]) },
          { 'x-amzn-bedrock-input-token-count': String(usage.inputTokens) },
        );
      } else {
        res.writeHead(404, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'ResourceNotFoundException',
        });
        res.end(JSON.stringify({ message: `no route ${path}` }));
      }
    });
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}
