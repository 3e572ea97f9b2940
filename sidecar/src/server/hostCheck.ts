import type { NextFunction, Request, Response } from 'express';

/** The address the server is actually bound to (from `server.address()` after listen). */
export interface BoundAddress {
  address: string;
  family: string;
  port: number;
}

/**
 * Loopback by the bound IP, never by the `--listen` text: `127.attacker.test` resolving to a public
 * address is not loopback, and `0.0.0.0` / `::` (every interface) are not either.
 */
export function isLoopbackAddress(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(v4)) return v4.startsWith('127.');
  return ip === '::1' || ip === '0:0:0:0:0:0:0:1';
}

/** `host[:port]` of a Host header, IPv6 literals in brackets; undefined when malformed. */
function splitHost(header: string): { name: string; port: string | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  if (!m?.[1]) return undefined;
  return { name: m[1].toLowerCase(), port: m[2] };
}

/**
 * Whether a Host header names this loopback server: `localhost`, `127.0.0.1`, `[::1]` or the bound
 * address, with no port or the bound port. Any other name is how a DNS-rebinding page would arrive.
 */
export function hostHeaderAllowed(header: string | undefined, bound: BoundAddress): boolean {
  if (header === undefined) return false;
  const host = splitHost(header);
  if (!host) return false;
  if (host.port !== undefined && Number(host.port) !== bound.port) return false;
  const boundName = bound.family === 'IPv6' ? `[${bound.address.toLowerCase()}]` : bound.address;
  return ['localhost', '127.0.0.1', '[::1]', boundName].includes(host.name);
}

/**
 * Refuses requests whose Host is not this server's while the API is open without a token (loopback,
 * no `SPENDLINE_API_TOKEN`): a page on another origin that rebinds its name to 127.0.0.1 gets 403.
 * With a token, or before the server is bound, it lets everything through (the token guards /api).
 */
export function requireLoopbackHost(openWithoutToken: () => BoundAddress | undefined) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const bound = openWithoutToken();
    if (bound === undefined || hostHeaderAllowed(req.headers.host, bound)) {
      next();
      return;
    }
    res.status(403).json({
      error: 'forbidden_host',
      message:
        'this sidecar answers only to localhost, 127.0.0.1, [::1] or its bound address while SPENDLINE_API_TOKEN is unset',
    });
  };
}
