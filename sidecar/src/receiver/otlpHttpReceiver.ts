import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip, createInflate } from 'node:zlib';
import type { StatusObject } from '@grpc/grpc-js';
import { hostPortText, hostText, ListenError } from '../listenError.js';
import { isJsonObject } from './jsonObject.js';
import { normaliseOtlpJson } from './normaliseJson.js';
import { OTLP_GRPC_PATHS, rawExportService } from './otlpGrpcService.js';
import { decodeOtlpProtobuf, type OtlpSignal } from './otlpProto.js';
import { RotatingFile, type RotatingFileOptions } from './rotatingFile.js';
import { splitExportRequest } from './splitRequest.js';
import { stripContent } from './stripContent.js';

export interface ReceiverOptions {
  host: string;
  port: number;
  /** The export file (collector file-exporter format: one OTLP/JSON request per line). */
  filePath: string;
  /** Largest accepted request body after decompression (collector default: 20 MiB). */
  maxBodyBytes?: number;
  /**
   * Request bodies held at once, all requests together (default 4 x maxBodyBytes): past it a request
   * is answered 503 with Retry-After, which OTLP exporters retry, so many slow or concurrent clients
   * cannot make the receiver buffer without bound.
   */
  maxBufferedBytes?: number;
  /**
   * Longest line written (default 16 MiB, the sidecar's --max-line-bytes): a bigger request is split
   * into several lines between records, so nothing acknowledged is a line the sidecar skips.
   */
  maxLineBytes?: number;
  rotateBytes?: number;
  maxBackups?: number;
  /**
   * Also accept OTLP/gRPC (the collector's port 4317; the default of many non-Node SDKs) on this
   * address, into the same file. Port 0 picks a free port.
   */
  grpc?: { host: string; port: number };
  /**
   * Keep prompt and completion content in the export file (the operator's opt-in, `up --keep-content`).
   * By default it is deleted as the collector's `transform/strip_content` deletes it (stripContent.ts).
   */
  keepContent?: boolean;
  /** Test seam: the export file's write call (simulates a full disk). */
  writeSync?: RotatingFileOptions['writeSync'];
}

export interface ReceiverStats {
  requests: number;
  accepted: number;
  rejected: number;
  linesWritten: number;
  bytesWritten: number;
  /** Requests answered 503 because the export file could not be written (nothing of them kept). */
  writeFailures: number;
  /**
   * OTLP metrics requests, acknowledged and dropped: the collector's GenAI file export carries logs
   * and traces only (metrics repeat them), but an SDK that also exports metrics to this endpoint
   * should not log an error every interval.
   */
  metricsDiscarded: number;
  /** Bytes of request bodies held right now (bounded by maxBufferedBytes). */
  bufferedBytes: number;
}

export interface RunningReceiver {
  url: string;
  /** `http://host:port` of the OTLP/gRPC listener, when `grpc` was given. */
  grpcUrl: string | undefined;
  stats(): ReceiverStats;
  /** Stops accepting, finishes requests in flight, flushes the file. */
  close(): Promise<void>;
}

/** The collector's default `max_request_body_size` (confighttp): 20 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;
/** The sidecar's default --max-line-bytes. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

const PATHS: Record<string, OtlpSignal> = { '/v1/logs': 'logs', '/v1/traces': 'traces' };
const TOP_KEY: Record<OtlpSignal, string> = { logs: 'resourceLogs', traces: 'resourceSpans' };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A local OTLP/HTTP receiver standing in for the collector on a laptop: accepts logs and traces as JSON
 * or protobuf (optionally gzip/deflate), and appends each request as one OTLP/JSON line to a rotated
 * file, exactly the format of the collector's `file` exporter with `format: json`.
 */
export async function startOtlpReceiver(options: ReceiverOptions): Promise<RunningReceiver> {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const maxBuffered = options.maxBufferedBytes ?? 4 * maxBody;
  const file = new RotatingFile({
    path: options.filePath,
    maxBytes: options.rotateBytes ?? 100 * 1024 * 1024,
    maxBackups: options.maxBackups ?? 10,
    writeSync: options.writeSync,
  });
  const stats: ReceiverStats = {
    requests: 0,
    accepted: 0,
    rejected: 0,
    linesWritten: 0,
    bytesWritten: 0,
    writeFailures: 0,
    metricsDiscarded: 0,
    bufferedBytes: 0,
  };

  /** Appends a decoded request to the export file, whole or not at all (throws HttpError). */
  const accept = (signal: OtlpSignal, message: Record<string, unknown>): void => {
    if (!hasRecords(signal, message)) return;
    if (options.keepContent !== true) stripContent(signal, message);
    const split = splitExportRequest(signal, message, maxLine);
    if (!split.ok) throw new HttpError(413, split.reason);
    try {
      file.appendLines(split.lines);
    } catch (err) {
      // Nothing of the request is kept (the file is cut back to its last complete line): 503 (gRPC
      // UNAVAILABLE) asks the exporter to retry, which OTLP exporters do.
      stats.writeFailures++;
      throw new HttpError(503, `could not write the export file: ${(err as Error).message}`);
    }
    stats.linesWritten += split.lines.length;
    for (const line of split.lines) stats.bytesWritten += Buffer.byteLength(line) + 1;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    let held = 0;
    const hold = (bytes: number) => {
      if (stats.bufferedBytes + bytes > maxBuffered)
        throw new HttpError(
          503,
          `the receiver is busy: ${maxBuffered} bytes of request bodies are being read; retry`,
        );
      stats.bufferedBytes += bytes;
      held += bytes;
    };
    try {
      const path = (req.url ?? '').split('?')[0] ?? '';
      const signal = PATHS[path];
      const metrics = path === '/v1/metrics';
      if (signal === undefined && !metrics)
        throw new HttpError(404, `unknown path ${req.url}; use /v1/logs or /v1/traces`);
      if (req.method !== 'POST') throw new HttpError(405, 'use POST');
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      const isJson = type === 'application/json';
      const isProto = type === 'application/x-protobuf' || type === 'application/protobuf';
      if (!isJson && !isProto) {
        throw new HttpError(
          415,
          `unsupported content-type "${type}"; send application/json or application/x-protobuf`,
        );
      }
      const body = await readBody(req, maxBody, hold);
      if (signal === undefined) stats.metricsDiscarded++;
      else accept(signal, isJson ? parseJsonRequest(signal, body) : parseProtoRequest(signal, body));
      stats.accepted++;
      if (isJson) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      }
    } catch (err) {
      stats.rejected++;
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent)
        res.writeHead(status, {
          'content-type': 'application/json',
          connection: 'close',
          ...(status === 503 ? { 'retry-after': '1' } : {}),
        });
      res.end(JSON.stringify({ code: status, message }));
      req.resume();
    } finally {
      stats.bufferedBytes -= held;
    }
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new ListenError('otlp-http', hostPortText(options.host, options.port), err)),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let grpc: Awaited<ReturnType<typeof startGrpcListener>> | undefined;
  if (options.grpc !== undefined) {
    try {
      grpc = await startGrpcListener(
        options.grpc,
        maxBody,
        (signal, body) => {
          stats.requests++;
          try {
            accept(signal, parseProtoRequest(signal, body));
            stats.accepted++;
          } catch (err) {
            stats.rejected++;
            throw err;
          }
        },
        () => {
          stats.requests++;
          stats.accepted++;
          stats.metricsDiscarded++;
        },
      );
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      file.close();
      throw err;
    }
  }
  return {
    url: `http://${hostText(options.host)}:${port}`,
    grpcUrl: grpc?.url,
    stats: () => ({ ...stats }),
    close: async () => {
      await Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
        grpc?.close(),
      ]);
      file.close();
    },
  };
}

/**
 * The OTLP/gRPC listener: the logs and traces `Export` methods, raw protobuf bytes in, an empty
 * response out (an empty `Export*ServiceResponse` is zero bytes). gRPC-level gzip is handled by
 * grpc-js, which also enforces `maxBody` on the decompressed message. Errors map as the OTLP/gRPC
 * specification asks: a request that can never be accepted is INVALID_ARGUMENT (not retried), a
 * full disk UNAVAILABLE (retried).
 */
async function startGrpcListener(
  address: { host: string; port: number },
  maxBody: number,
  accept: (signal: OtlpSignal, body: Buffer) => void,
  discardMetrics: () => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const grpc = await import('@grpc/grpc-js');
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxBody,
    'grpc.max_send_message_length': 1024,
  });
  server.addService(rawExportService(OTLP_GRPC_PATHS.metrics), {
    Export: (_call: unknown, callback: (err: null, value: Buffer) => void) => {
      discardMetrics();
      callback(null, Buffer.alloc(0));
    },
  });
  for (const signal of ['logs', 'traces'] as const) {
    server.addService(rawExportService(OTLP_GRPC_PATHS[signal]), {
      Export: (
        call: { request: Buffer },
        callback: (err: Partial<StatusObject> | null, value?: Buffer) => void,
      ) => {
        try {
          accept(signal, call.request);
          callback(null, Buffer.alloc(0));
        } catch (err) {
          const status = err instanceof HttpError ? err.status : 500;
          callback({
            code:
              status === 503
                ? grpc.status.UNAVAILABLE
                : status === 400 || status === 413
                  ? grpc.status.INVALID_ARGUMENT
                  : grpc.status.INTERNAL,
            details: err instanceof Error ? err.message : String(err),
          });
        }
      },
    });
  }
  // grpc-js would also print its own line for a failed bind; the error below says it all.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  const where = hostPortText(address.host, address.port);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(where, grpc.ServerCredentials.createInsecure(), (err, p) => {
      if (!err) resolve(p);
      else reject(new ListenError('otlp-grpc', where, err));
    }),
  );
  return {
    url: `http://${hostText(address.host)}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Calls in flight finish (their requests are whole or refused); a client that holds its
        // stream open is cut after 2 s.
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/** The body, decompressed; `hold` is told each chunk's size before it is kept (and may refuse it). */
async function readBody(
  req: IncomingMessage,
  maxBytes: number,
  hold: (bytes: number) => void,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, `request body of ${declared} bytes is over the ${maxBytes}-byte limit`);
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  let source: NodeJS.ReadableStream = req;
  if (encoding === 'gzip' || encoding === 'deflate') {
    const decoder = encoding === 'gzip' ? createGunzip() : createInflate();
    // pipe() does not pass a client's abort on: the decoder would wait for the rest of the body forever.
    req.on('close', () => {
      if (!req.complete) decoder.destroy(new Error('the client closed the connection before the body ended'));
    });
    source = req.pipe(decoder);
  } else if (encoding !== 'identity') throw new HttpError(415, `unsupported content-encoding "${encoding}"`);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > maxBytes) throw new HttpError(413, `request body is over the ${maxBytes}-byte limit`);
      hold(buf.length);
      chunks.push(buf);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, `could not read the body: ${(err as Error).message}`);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Deepest nesting accepted in a request. OTLP itself is about 8 levels deep plus 4 per nested AnyValue;
 * deeper documents are refused before any recursive walk (JSON.stringify when writing) could overflow the
 * stack. (The walk to the collector's field names, normaliseJson.ts, is iterative.)
 */
export const MAX_JSON_NESTING = 256;

/** Deepest `[`/`{` nesting of a JSON text, scanning bytes (strings skipped); stops past `limit`. */
export function jsonNestingDepth(body: Uint8Array, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

function parseJsonRequest(signal: OtlpSignal, body: Buffer): Record<string, unknown> {
  if (jsonNestingDepth(body, MAX_JSON_NESTING) > MAX_JSON_NESTING)
    throw new HttpError(400, `JSON nested deeper than ${MAX_JSON_NESTING} levels`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `malformed JSON: ${(err as Error).message}`);
  }
  if (!isJsonObject(parsed)) {
    throw new HttpError(400, `expected an OTLP ${signal} request object`);
  }
  const wrong = wrongType(parsed, REQUEST_SHAPE[signal]);
  if (wrong !== undefined)
    throw new HttpError(
      400,
      `malformed OTLP ${signal} request: ${wrong.path.join('')} must be ${wrong.expected}, not ${typeName(wrong.found)}`,
    );
  // Written as the collector writes it: lowerCamelCase names (the proto names are read too), fields
  // OTLP does not define dropped, lowercase ids; content stripping and the sidecar read only that.
  return normaliseOtlpJson(signal, parsed);
}

/**
 * The fields of an OTLP message that hold a message (`one`) or a list of messages (`list`), by every
 * JSON name the collector reads (lowerCamelCase and the proto names). Scalar fields and what an
 * AnyValue holds are not described: their types are not checked here.
 */
type Shape = readonly (readonly [name: string, kind: 'one' | 'list', shape: Shape])[];

const ANY_VALUE: Shape = [];
const KEY_VALUE: Shape = [['value', 'one', ANY_VALUE]];
const ATTRIBUTES = ['attributes', 'list', KEY_VALUE] as const;
const withAttributes: Shape = [ATTRIBUTES];
const named = (names: string[], kind: 'one' | 'list', shape: Shape) =>
  names.map((name) => [name, kind, shape] as const);
const SCOPE_LOGS: Shape = [
  ['scope', 'one', withAttributes],
  ...named(['logRecords', 'log_records'], 'list', [ATTRIBUTES, ['body', 'one', ANY_VALUE]]),
];
const SPAN: Shape = [
  ATTRIBUTES,
  ['events', 'list', withAttributes],
  ['links', 'list', withAttributes],
  ['status', 'one', []],
];
const SCOPE_SPANS: Shape = [
  ['scope', 'one', withAttributes],
  ['spans', 'list', SPAN],
];
const REQUEST_SHAPE: Record<OtlpSignal, Shape> = {
  logs: named(['resourceLogs', 'resource_logs'], 'list', [
    ['resource', 'one', withAttributes],
    ...named(['scopeLogs', 'scope_logs', 'deprecatedScopeLogs', 'deprecated_scope_logs'], 'list', SCOPE_LOGS),
  ]),
  traces: named(['resourceSpans', 'resource_spans'], 'list', [
    ['resource', 'one', withAttributes],
    ...named(
      ['scopeSpans', 'scope_spans', 'deprecatedScopeSpans', 'deprecated_scope_spans'],
      'list',
      SCOPE_SPANS,
    ),
  ]),
};

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

interface WrongType {
  /** Where, outermost first (`resourceLogs[0]`, `.scopeLogs`, …). */
  path: string[];
  expected: 'an object' | 'an array';
  found: unknown;
}

/**
 * The first field whose JSON type is not the one its OTLP message has, as the collector's OTLP/JSON
 * unmarshaler (pdata) refuses it: an object where a message is, an array of objects where a repeated
 * message is. `null` is an absent field (or an empty entry of a list) and unknown fields are skipped,
 * as there. Reads the parsed request in place (nothing copied); the recursion follows the shape, not
 * the body, so it is at most 6 calls deep (request, resource, scope, span, event, attribute).
 */
function wrongType(obj: Record<string, unknown>, shape: Shape): WrongType | undefined {
  for (const [name, kind, inner] of shape) {
    const value = obj[name];
    if (value === undefined || value === null) continue;
    if (kind === 'one') {
      if (!isJsonObject(value)) return { path: [name], expected: 'an object', found: value };
      const wrong = inner.length > 0 ? wrongType(value, inner) : undefined;
      if (wrong !== undefined) {
        wrong.path.unshift(name, '.');
        return wrong;
      }
      continue;
    }
    if (!Array.isArray(value)) return { path: [name], expected: 'an array', found: value };
    for (let i = 0; i < value.length; i++) {
      const entry: unknown = value[i];
      if (entry === null) continue;
      if (!isJsonObject(entry)) return { path: [name, `[${i}]`], expected: 'an object', found: entry };
      const wrong = inner.length > 0 ? wrongType(entry, inner) : undefined;
      if (wrong !== undefined) {
        wrong.path.unshift(name, `[${i}]`, '.');
        return wrong;
      }
    }
  }
  return undefined;
}

function parseProtoRequest(signal: OtlpSignal, body: Buffer): Record<string, unknown> {
  const decoded = decodeOtlpProtobuf(signal, body);
  if (!decoded.ok) throw new HttpError(400, decoded.reason);
  return decoded.message;
}

function hasRecords(signal: OtlpSignal, message: Record<string, unknown>): boolean {
  const top = message[TOP_KEY[signal]];
  return Array.isArray(top) && top.length > 0;
}
