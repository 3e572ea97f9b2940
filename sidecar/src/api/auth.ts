import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export interface ApiAuthOptions {
  /** Bearer token from `SPENDLINE_API_TOKEN`; undefined or '' when not set. */
  token: string | undefined;
  /** True when the server is bound to a loopback address (decided from `server.address()`, not the `--listen` text). */
  loopbackOnly: boolean | (() => boolean);
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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
