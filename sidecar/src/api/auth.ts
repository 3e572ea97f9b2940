import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export interface ApiAuthOptions {
  /** Bearer token from `SPENDLINE_API_TOKEN`; undefined or '' when not set. */
  token: string | undefined;
  /** True when the server is bound to a loopback address (decided from `server.address()`, not the `--listen` text). */
  loopbackOnly: boolean | (() => boolean);
}

/**
 * Compares SHA-256 digests, which always have the same length, in constant time: comparing the
 * tokens themselves would return at once on a length mismatch and tell a caller the token's length.
 */
function sameToken(a: string, b: string): boolean {
  const digest = (t: string) => createHash('sha256').update(t).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** How many `Authorization` header lines the request carried (Node keeps only the first). */
function authorizationHeaders(req: Request): number {
  let n = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i]?.toLowerCase() === 'authorization') n++;
  return n;
}

/**
 * Guards `/api/*`. With a token set, every request needs `Authorization: Bearer <token>` (401
 * otherwise). Without one, the API is open only when the server listens on loopback (a laptop);
 * on any other address it refuses with 401 and says how to turn it on.
 */
export function requireApiToken(options: ApiAuthOptions) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const token = options.token ?? '';
    if (token === '') {
      const loopback =
        typeof options.loopbackOnly === 'function' ? options.loopbackOnly() : options.loopbackOnly;
      if (loopback) {
        next();
        return;
      }
      res.status(401).json({
        error: 'unauthorized',
        message: 'the usage API is off on non-loopback addresses until SPENDLINE_API_TOKEN is set',
      });
      return;
    }
    // Node reads the first of two Authorization headers, a proxy in front may read the last: such a
    // request is ambiguous and refused, whatever the headers hold.
    if (authorizationHeaders(req) > 1) {
      res.status(400).json({ error: 'bad_request', message: 'send exactly one Authorization header' });
      return;
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (match?.[1] === undefined || !sameToken(match[1].trim(), token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="spendline"');
      res
        .status(401)
        .json({ error: 'unauthorized', message: 'send Authorization: Bearer <SPENDLINE_API_TOKEN>' });
      return;
    }
    next();
  };
}
