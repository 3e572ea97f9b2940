import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Usage the fake reports, as Gemini's `usageMetadata`. */
export interface GeminiUsage {
  promptTokenCount: number;
  candidatesTokenCount: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
}

export interface FakeGemini {
  url: string;
  requests: { path: string; body: unknown }[];
  close(): Promise<void>;
}

const REPLY = ['Hello ', 'from ', 'the fake ', 'Gemini.'];

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function total(u: GeminiUsage): number {
  return u.promptTokenCount + u.candidatesTokenCount + (u.thoughtsTokenCount ?? 0);
}

/**
 * Models answered in several continuation hops (`@google/genai` ≥ 3 resumes them by itself): hop i
 * reports `hops[i]` as its own usage and, but for the last, ends with `finishReason: 'CONTINUATION'`
 * and a `continuationToken` the client sends back as the next request's `continuationToken`.
 */
export type GeminiContinuations = Record<string, GeminiUsage[]>;

/**
 * A loopback Gemini Developer API (`v1beta`, the default of `@google/genai` 1 and 2; `v1`, the default of 3):
 * `models/{m}:generateContent`, `:streamGenerateContent?alt=sse`
 * (SSE, usage on every chunk, cumulative, as the real API) and `:batchEmbedContents` (no usage, as the real API).
 */
export async function startFakeGemini(
  defaultUsage: GeminiUsage,
  continuations: GeminiContinuations = {},
): Promise<FakeGemini> {
  const requests: FakeGemini['requests'] = [];
  const server = createServer((req, res) => {
    void read(req).then((raw) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const body: unknown = raw ? JSON.parse(raw) : undefined;
      requests.push({ path, body });
      const m = /^\/v1(?:beta|alpha)?\/models\/([^:]+):(\w+)$/.exec(path);
      const model = m?.[1] ?? '';
      const hops = continuations[model];
      const token = (body as { continuationToken?: unknown } | undefined)?.continuationToken;
      const hop = typeof token === 'string' ? Number(token.replace('hop-', '')) : 0;
      const usage = hops?.[hop] ?? defaultUsage;
      const more = hops !== undefined && hop < hops.length - 1;
      const usageMetadata = { ...usage, totalTokenCount: total(usage) };
      const candidate = (text: string, last: boolean) => ({
        content: { role: 'model', parts: [{ text }] },
        ...(last
          ? more
            ? { finishReason: 'CONTINUATION', continuationToken: `hop-${hop + 1}` }
            : { finishReason: 'STOP' }
          : {}),
        index: 0,
      });
      if (m?.[2] === 'generateContent') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            candidates: [candidate(REPLY.join(''), true)],
            usageMetadata,
            modelVersion: model,
          }),
        );
      } else if (m?.[2] === 'streamGenerateContent') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        REPLY.forEach((piece, i) => {
          const last = i === REPLY.length - 1;
          // Intermediate chunks carry the prompt count only; the last one the full usage.
          const u = last
            ? usageMetadata
            : { promptTokenCount: usage.promptTokenCount, totalTokenCount: usage.promptTokenCount };
          res.write(
            `data: ${JSON.stringify({ candidates: [candidate(piece, last)], usageMetadata: u, modelVersion: model })}\r\n\r\n`,
          );
        });
        res.end();
      } else if (m?.[2] === 'batchEmbedContents') {
        const n = Array.isArray((body as { requests?: unknown[] })?.requests)
          ? (body as { requests: unknown[] }).requests.length
          : 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ embeddings: Array.from({ length: n }, () => ({ values: [0.1, 0.2, 0.3] })) }),
        );
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 404, message: `no route ${path}`, status: 'NOT_FOUND' } }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
