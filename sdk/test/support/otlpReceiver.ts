import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { decodeOtlpProtobuf } from '../../../sidecar/src/receiver/otlpProto.js';

export type AttrValue = string | number | boolean;

export interface CapturedLog {
  eventName: string | undefined;
  attributes: Record<string, AttrValue>;
  traceId: string;
  spanId: string;
  resource: Record<string, AttrValue>;
  scope: string | undefined;
}

export interface CapturedSpan {
  name: string;
  kind: number;
  attributes: Record<string, AttrValue>;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** W3C tracestate ('' when none). */
  traceState: string;
  statusCode: number;
  resource: Record<string, AttrValue>;
}

/** How the receiver answers: accept, fail with a status, or never answer. */
export type ReceiverMode = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'hang' };

export interface OtlpReceiver {
  /** Base URL (`http://127.0.0.1:<port>`); the SDK appends `/v1/logs` and `/v1/traces`. */
  url: string;
  /** Parsed bodies of accepted requests, per path. */
  bodies: { logs: unknown[]; traces: unknown[] };
  /** Every request, accepted or not. */
  requests: {
    path: string;
    contentType: string | undefined;
    headers: Record<string, string | string[] | undefined>;
  }[];
  setMode(mode: ReceiverMode): void;
  logs(): CapturedLog[];
  spans(): CapturedSpan[];
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

function attrValue(v: Json | undefined): AttrValue {
  if (!v) return '';
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  return JSON.stringify(v);
}

export function flattenAttributes(list: unknown): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  if (!Array.isArray(list)) return out;
  for (const a of list as { key: string; value?: Json }[]) out[a.key] = attrValue(a.value);
  return out;
}

/** A loopback OTLP/HTTP receiver (JSON or protobuf) that records what the real exporters send. */
export async function startOtlpReceiver(
  options: {
    /** Serve HTTPS with this key and certificate; with `ca`, require a client certificate it signed (mTLS). */
    tls?: { key: Buffer; cert: Buffer; ca?: Buffer };
  } = {},
): Promise<OtlpReceiver> {
  let mode: ReceiverMode = { kind: 'ok' };
  const bodies = { logs: [] as unknown[], traces: [] as unknown[] };
  const requests: OtlpReceiver['requests'] = [];
  const hanging = new Set<ServerResponse>();

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      requests.push({ path, contentType: req.headers['content-type'], headers: req.headers });
      if (mode.kind === 'hang') {
        hanging.add(res);
        return;
      }
      if (mode.kind === 'status') {
        res.writeHead(mode.status, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      const raw = Buffer.concat(parts);
      let body: unknown;
      try {
        if (/protobuf/.test(req.headers['content-type'] ?? '')) {
          // OTLP/HTTP protobuf, decoded to its OTLP/JSON form by the sidecar's own decoder.
          const decoded = decodeOtlpProtobuf(path === '/v1/traces' ? 'traces' : 'logs', raw);
          if (!decoded.ok) throw new Error(decoded.reason);
          body = decoded.message;
        } else body = JSON.parse(raw.toString('utf8'));
      } catch {
        // A body cut short (the SDK closes abandoned requests at its shutdown deadline): a collector
        // answers 400; it is not a received export.
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      if (path === '/v1/logs') bodies.logs.push(body);
      else if (path === '/v1/traces') bodies.traces.push(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  };
  const tls = options.tls;
  const server =
    tls === undefined
      ? createServer(handler)
      : createHttpsServer(
          {
            key: tls.key,
            cert: tls.cert,
            ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    bodies,
    requests,
    setMode: (m) => {
      mode = m;
    },
    logs: () => capturedLogs(bodies.logs),
    spans: () => capturedSpans(bodies.traces),
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hanging) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The log records of OTLP/JSON-shaped logs requests. */
export function capturedLogs(requests: unknown[]): CapturedLog[] {
  const out: CapturedLog[] = [];
  for (const b of requests as Json[]) {
    for (const rl of (b.resourceLogs ?? []) as Json[]) {
      const resource = flattenAttributes((rl.resource as Json | undefined)?.attributes);
      for (const sl of (rl.scopeLogs ?? []) as Json[]) {
        for (const r of (sl.logRecords ?? []) as Json[]) {
          out.push({
            eventName: r.eventName as string | undefined,
            attributes: flattenAttributes(r.attributes),
            traceId: String(r.traceId ?? ''),
            spanId: String(r.spanId ?? ''),
            resource,
            scope: (sl.scope as Json | undefined)?.name as string | undefined,
          });
        }
      }
    }
  }
  return out;
}

/** The spans of OTLP/JSON-shaped traces requests. */
export function capturedSpans(requests: unknown[]): CapturedSpan[] {
  const out: CapturedSpan[] = [];
  for (const b of requests as Json[]) {
    for (const rs of (b.resourceSpans ?? []) as Json[]) {
      const resource = flattenAttributes((rs.resource as Json | undefined)?.attributes);
      for (const ss of (rs.scopeSpans ?? []) as Json[]) {
        for (const s of (ss.spans ?? []) as Json[]) {
          out.push({
            name: String(s.name),
            kind: Number(s.kind),
            attributes: flattenAttributes(s.attributes),
            traceId: String(s.traceId ?? ''),
            spanId: String(s.spanId ?? ''),
            parentSpanId: String(s.parentSpanId ?? ''),
            traceState: String(s.traceState ?? ''),
            statusCode: Number((s.status as Json | undefined)?.code ?? 0),
            resource,
          });
        }
      }
    }
  }
  return out;
}
