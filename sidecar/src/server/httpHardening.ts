import { maxHeaderSize, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';

/**
 * The status page loads only its own script, style and data; nothing may frame it. Applied to every
 * response (page, API, metrics, errors) so no answer can be rendered as active content elsewhere.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  next();
}

/** API answers (usage, budgets, errors, refusals) are private and change: no cache keeps them. */
export function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Cache-Control', 'no-store');
  next();
}

/**
 * The API's unknown paths: the last handler of the `/api` mount, so it answers exactly the requests
 * Express routed there (it matches `/api` in any capitalisation, with or without a trailing slash),
 * after the bearer token, and no API route took. A check of the path's text instead (`/api/`
 * prefix) missed `/API/…`, which Express routes to the API all the same.
 */
export function apiNotFound(req: Request, res: Response): void {
  const path = req.originalUrl.split('?', 1)[0];
  res.status(404).json({ error: 'not_found', message: `no such endpoint: ${req.method} ${path}` });
}

/** Every other unknown path: plain text, never Express' HTML page. */
export function notFound(_req: Request, res: Response): void {
  res.status(404).type('text/plain').send('not found\n');
}

/**
 * The last middleware: every error becomes a JSON body without internals (no stack, no paths). A
 * client error Express raised itself (malformed URL encoding, …) keeps its 4xx status; anything
 * else is a bug, logged on the sidecar's stderr and answered 500.
 */
export function jsonErrors(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  const status = clientErrorStatus(err);
  if (status === undefined) {
    process.stderr.write(
      `spendline: ${req.method} ${req.path} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (status !== undefined) res.status(status).json({ error: 'bad_request', message: 'malformed request' });
  else
    res
      .status(500)
      .json({ error: 'internal_error', message: 'the request failed inside the sidecar; see its log' });
}

function clientErrorStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * Requests Node's parser refuses before Express sees them (headers over 16 KiB, e.g. a huge query
 * string; a malformed request line; a request not received in time) get the same JSON error and
 * security headers as every other answer, not Node's bare status line.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || socket.bytesWritten > 0) {
      socket.destroy();
      return;
    }
    const [status, reason, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            `the request line and headers are over ${maxHeaderSize} bytes`,
          ]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'the request was not received in time']
          : [400, 'Bad Request', 'malformed HTTP request'];
    const body = JSON.stringify({ error: 'bad_request', message });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nContent-Security-Policy: ${CONTENT_SECURITY_POLICY}\r\n` +
        'X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n' +
        `Connection: close\r\n\r\n${body}`,
    );
  });
}
