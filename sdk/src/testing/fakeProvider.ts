import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerMessages, anthropicError } from './fakeAnthropic.js';
import { answerChat, answerEmbeddings, answerResponses, type FakeReply, sendJson } from './fakeOpenAI.js';
import { type FakeModelBehaviour, resolveBehaviour } from './fakeUsage.js';

export { FAKE_TOOL_ARGUMENTS } from './fakeOpenAI.js';
export type { FakeModelBehaviour, FakeUsage } from './fakeUsage.js';
export { DEFAULT_FAKE_REPLY, DEFAULT_FAKE_USAGE } from './fakeUsage.js';

/** Header that injects a failure into one request: `429`, `500` (any 4xx/5xx status), or `abort`. */
export const FAKE_ERROR_HEADER = 'x-fake-error';
/** With `abort`: how many stream events to send before the connection is cut (default 2). */
export const FAKE_ABORT_AFTER_HEADER = 'x-fake-abort-after';

export interface FakeProviderOptions {
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Only loopback is supported. */
  host?: '127.0.0.1';
  /** Per-model usage, served model and reply; unknown models use {@link DEFAULT_FAKE_USAGE}. */
  models?: Record<string, FakeModelBehaviour>;
  /** Pause between streamed events in ms (default 0), e.g. for demos with a visible time to first token. */
  streamEventDelayMs?: number;
}

/** One request the fake received, body parsed as JSON when possible. */
export interface FakeProviderRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface FakeProvider {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Pass as `new OpenAI({ baseURL })` (ends in `/v1`). */
  openaiBaseURL: string;
  /** Pass as `new Anthropic({ baseURL })`. */
  anthropicBaseURL: string;
  /** Every request received, in order (live array). */
  requests: FakeProviderRequest[];
  /** Changes a model's behaviour for later requests. */
  setModel(model: string, behaviour: FakeModelBehaviour): void;
  close(): Promise<void>;
}

/** Error injection by model name: `…error-429…`, `…error-500…` (any 3-digit status), `…abort…`. */
function injectedFailure(model: string, headers: IncomingHttpHeaders): string | undefined {
  const h = headers[FAKE_ERROR_HEADER];
  if (typeof h === 'string' && h) return h;
  const m = /error-(\d{3})/.exec(model);
  if (m?.[1]) return m[1];
  if (model.includes('abort')) return 'abort';
  return undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

const ROUTES: Record<string, { provider: 'openai' | 'anthropic'; answer: (r: FakeReply) => void }> = {
  '/v1/chat/completions': { provider: 'openai', answer: answerChat },
  '/v1/responses': { provider: 'openai', answer: answerResponses },
  '/v1/embeddings': { provider: 'openai', answer: answerEmbeddings },
  '/v1/messages': { provider: 'anthropic', answer: answerMessages },
};

/**
 * Starts a loopback HTTP server that speaks enough of the OpenAI (chat completions with SSE
 * streaming, `stream_options.include_usage`, tool calls; responses incl. streaming; embeddings)
 * and Anthropic (messages incl. SSE streaming) protocols for the real `openai` and
 * `@anthropic-ai/sdk` clients, with deterministic usage per model.
 *
 * A request without `model` gets a 400, as from the real APIs.
 *
 * Failures on demand, per request: header `x-fake-error: 429|500|<status>|abort`, or a model name
 * containing `error-429`, `error-500` or `abort`. `abort` sends `x-fake-abort-after` (default 2)
 * stream events, then cuts the connection (non-streaming: cuts before answering).
 *
 * ```ts
 * const fake = await startFakeProvider({ models: { 'gpt-4o-mini': { usage: { inputTokens: 20, outputTokens: 5, cachedTokens: 8 } } } });
 * const openai = new OpenAI({ baseURL: fake.openaiBaseURL, apiKey: 'test', maxRetries: 0 });
 * ```
 */
export async function startFakeProvider(options: FakeProviderOptions = {}): Promise<FakeProvider> {
  const models: Record<string, FakeModelBehaviour> = { ...options.models };
  const requests: FakeProviderRequest[] = [];
  let seq = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const raw = await readBody(req);
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      // keep the raw text in the log
    }
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
    const route = ROUTES[path];
    if (!route || req.method !== 'POST') {
      sendJson(res, 404, {
        error: { message: `fake provider: no route ${req.method} ${path}`, type: 'invalid_request_error' },
      });
      return;
    }
    const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const model = typeof b.model === 'string' ? b.model : '';
    if (model === '') {
      const message = 'fake provider: `model` is required';
      sendJson(
        res,
        400,
        route.provider === 'anthropic'
          ? { type: 'error', error: { type: 'invalid_request_error', message } }
          : { error: { message, type: 'invalid_request_error', param: 'model', code: null } },
      );
      return;
    }
    const failure = injectedFailure(model, req.headers);
    if (failure && /^\d{3}$/.test(failure)) {
      const status = Number(failure);
      const payload =
        route.provider === 'anthropic'
          ? anthropicError(status)
          : {
              error: {
                message: `fake ${status}`,
                type: status === 429 ? 'rate_limit_exceeded' : 'server_error',
                code: null,
                param: null,
              },
            };
      sendJson(res, status, payload);
      return;
    }
    const abortHeader = Number(req.headers[FAKE_ABORT_AFTER_HEADER]);
    const abortAfter =
      failure === 'abort' ? (Number.isInteger(abortHeader) && abortHeader >= 0 ? abortHeader : 2) : undefined;
    if (abortAfter !== undefined && b.stream !== true) {
      res.socket?.destroy();
      return;
    }
    seq++;
    route.answer({
      res,
      body: b,
      b: resolveBehaviour(models, model),
      abortAfter,
      eventDelayMs: options.streamEventDelayMs ?? 0,
      id: `fake_${seq}`,
      created: 1_700_000_000 + seq,
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent)
        sendJson(res, 500, { error: { message: 'fake provider internal error', type: 'server_error' } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    openaiBaseURL: `${url}/v1`,
    anthropicBaseURL: url,
    requests,
    setModel: (model, behaviour) => {
      models[model] = behaviour;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
