import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the raw fake answers one request with: any status and JSON body, or SSE events sent as given. */
export interface RawAnswer {
  status?: number;
  headers?: Record<string, string>;
  /** JSON body (any value, written as is with `JSON.stringify`). */
  json?: unknown;
  /** Server-sent events: each `data:` payload (objects are JSON-encoded), optionally with an `event:` name. */
  sse?: { event?: string; data: unknown }[];
  /** Cut the connection after the SSE events (no clean end). */
  cut?: boolean;
  /** Send headers and then nothing more (a provider that stalls mid-stream). */
  stall?: boolean;
}

export interface RawProvider {
  url: string;
  /** Every request: path, headers and parsed body. */
  requests: { path: string; headers: IncomingMessage['headers']; body: unknown }[];
  close(): Promise<void>;
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * A loopback provider that answers exactly what a test tells it to, for hostile responses the
 * protocol fakes never send (malformed usage, error bodies echoing the prompt, streams without usage).
 */
export async function startRawProvider(
  answer: (path: string, body: Record<string, unknown>) => RawAnswer,
): Promise<RawProvider> {
  const requests: RawProvider['requests'] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    void read(req).then((raw) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      let body: Record<string, unknown> = {};
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        body = {};
      }
      requests.push({ path, headers: req.headers, body });
      const a = answer(path, body);
      const status = a.status ?? 200;
      if (a.sse || a.stall) {
        res.writeHead(status, { 'content-type': 'text/event-stream', ...a.headers });
        res.flushHeaders();
        if (a.stall) {
          open.add(res);
          return;
        }
        const text = (a.sse ?? [])
          .map((e) => {
            const data = typeof e.data === 'string' ? e.data : JSON.stringify(e.data);
            return `${e.event ? `event: ${e.event}\n` : ''}data: ${data}\n\n`;
          })
          .join('');
        // A cut comes once the events are on the wire, so the client has them before the error.
        if (a.cut) res.write(text, () => setTimeout(() => res.socket?.destroy(), 20));
        else res.end(text);
        return;
      }
      const text = JSON.stringify(a.json ?? {});
      res.writeHead(status, { 'content-type': 'application/json', ...a.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const r of open) r.socket?.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
