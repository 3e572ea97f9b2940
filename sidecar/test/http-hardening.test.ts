import dns from 'node:dns';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SidecarConfig } from '../src/config.js';
import { parseSidecarArgs } from '../src/config.js';
import { EXTENSIONS } from '../src/extensionList.js';
import { type RunningSidecar, startSidecar } from '../src/index.js';
import { hostHeaderAllowed, isLoopbackAddress } from '../src/server/hostCheck.js';
import { tempDir } from './support/sidecarHarness.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.restoreAllMocks();
});

/** A sidecar with the CLI's defaults, an empty input, `listen` as given, and optional extra config. */
async function sidecar(listen: string, extra: Partial<SidecarConfig> = {}): Promise<RunningSidecar> {
  const t = tempDir('spendline-hardening-');
  cleanups.push(t.cleanup);
  const parsed = parseSidecarArgs(
    ['--otlp-file', join(t.dir, 'genai.json'), '--state-dir', join(t.dir, 'state'), '--listen', listen],
    {},
  );
  if (!parsed.ok || parsed.help) throw new Error('bad test config');
  const s = await startSidecar({ ...parsed.config, extensions: EXTENSIONS, ...extra });
  cleanups.push(() => s.stop());
  await s.ready;
  return s;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET with an explicit Host header (fetch does not let a caller set Host). */
function get(url: string, path: string, host?: string, token?: string): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port,
        path,
        headers: {
          ...(host !== undefined ? { host } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('loopback is decided by the bound address, not the --listen text (issue 15 #13)', () => {
  it('classifies bound addresses', () => {
    for (const ip of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(ip)).toBe(true);
    for (const ip of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '192.168.1.2',
      '::ffff:10.0.0.1',
      'fe80::1',
      '127.attacker.test',
    ])
      expect(isLoopbackAddress(ip)).toBe(false);
  });

  it('a --listen name that resolves to 127.0.0.1 opens the API; the text of the name does not matter', async () => {
    // The name looks like nothing loopback; name resolution (what the server binds) says 127.0.0.1.
    const lookup = dns.lookup;
    vi.spyOn(dns, 'lookup').mockImplementation(((host: string, ...rest: unknown[]) => {
      const cb = rest[rest.length - 1] as (err: Error | null, address: unknown, family?: number) => void;
      if (host === 'spendline-test.invalid') {
        // Node 22+ asks net.Server#listen's lookup for every address ({ all: true }).
        const options = rest.length > 1 ? rest[0] : undefined;
        const all =
          typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true;
        process.nextTick(() =>
          all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4),
        );
        return undefined;
      }
      return (lookup as (...a: unknown[]) => unknown)(host, ...rest);
    }) as typeof dns.lookup);
    const s = await sidecar('spendline-test.invalid:0');
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const port = new URL(s.url).port;
    const r = await get(s.url, '/api/usage/overall', `127.0.0.1:${port}`);
    expect(r.status).toBe(200);
  });

  it('accepts only the loopback names and the bound address in Host while no token is set', () => {
    const bound = { address: '127.0.0.1', family: 'IPv4', port: 9464 };
    for (const h of ['localhost:9464', '127.0.0.1:9464', '[::1]:9464', 'LOCALHOST', '127.0.0.1'])
      expect(hostHeaderAllowed(h, bound)).toBe(true);
    for (const h of [
      'evil.test:9464',
      '127.attacker.test:9464',
      'localhost:80',
      'localhost.:9464',
      '',
      'a:b:c',
      undefined,
    ])
      expect(hostHeaderAllowed(h, bound)).toBe(false);
    const v6 = { address: '::1', family: 'IPv6', port: 1 };
    expect(hostHeaderAllowed('[::1]:1', v6)).toBe(true);
    const other = { address: '127.0.0.2', family: 'IPv4', port: 5 };
    expect(hostHeaderAllowed('127.0.0.2:5', other)).toBe(true);
  });
});

describe('DNS-rebinding shape: unexpected Host headers are refused without a token', () => {
  it('403 JSON for another Host on every path; the loopback names work', async () => {
    const s = await sidecar('127.0.0.1:0');
    const port = new URL(s.url).port;
    for (const path of ['/api/usage/overall', '/metrics', '/healthz', '/']) {
      const bad = await get(s.url, path, `rebind.attacker.test:${port}`);
      expect(bad.status).toBe(403);
      expect(bad.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(bad.body)).toMatchObject({ error: 'forbidden_host' });
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
      expect((await get(s.url, '/api/usage/overall', host)).status).toBe(200);
    }
  });

  it('with a token, any Host is served (the token guards the API)', async () => {
    const s = await sidecar('127.0.0.1:0', { apiToken: 'tok-SYNTHETIC' });
    const port = new URL(s.url).port;
    expect((await get(s.url, '/metrics', `sidecar.internal:${port}`)).status).toBe(200);
    expect((await get(s.url, '/api/usage/overall', `sidecar.internal:${port}`)).status).toBe(401);
    expect((await get(s.url, '/api/usage/overall', `sidecar.internal:${port}`, 'tok-SYNTHETIC')).status).toBe(
      200,
    );
  });
});

describe('security headers and JSON errors (issue 15 #12, #13)', () => {
  it('the page, the API, /metrics and errors carry CSP, nosniff and frame protection', async () => {
    const s = await sidecar('127.0.0.1:0');
    for (const path of ['/', '/app.js', '/api/usage/overall', '/metrics', '/api/nope', '/nope']) {
      const r = await get(s.url, path);
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('DENY');
    }
    const page = await get(s.url, '/');
    expect(page.status).toBe(200);
    expect(page.body).not.toMatch(/style="/); // inline styles would be blocked by the policy
  });

  it('/api/reconciliation?tolerance=1e308 is a 400 JSON with the reason; bounds on every numeric parameter', async () => {
    const s = await sidecar('127.0.0.1:0');
    for (const q of [
      'tolerance=1e308',
      'tolerance=-1',
      'tolerance=NaN',
      'tolerance=5%25',
      'tolerance=1000.01',
      'days=1e3',
      'days=0',
      'days=401',
    ]) {
      const r = await get(s.url, `/api/reconciliation?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(r.body) as { error: string; message: string };
      expect(body.error).toBe('bad_request');
      expect(body.message).toMatch(/"(tolerance|days)" must be/);
    }
    expect((await get(s.url, '/api/reconciliation?tolerance=2.5&days=7')).status).toBe(200);
    expect((await get(s.url, '/api/reconciliation?tolerance=1000')).status).toBe(200);
  });

  it('a handler that throws answers 500 JSON with no stack or path; unknown API paths 404 JSON', async () => {
    const s = await sidecar('127.0.0.1:0', {
      extensions: [
        ...EXTENSIONS,
        {
          name: 'thrower',
          start: (ctx) => {
            ctx.api.get('/boom', () => {
              throw new RangeError(`secret detail at ${process.cwd()}/sidecar/src/x.ts:1`);
            });
            ctx.api.get('/boom-async', async () => {
              throw new Error('async secret');
            });
          },
        },
      ],
    });
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    for (const path of ['/api/boom', '/api/boom-async']) {
      const r = await get(s.url, path);
      expect(r.status).toBe(500);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(r.body)).toEqual({
        error: 'internal_error',
        message: 'the request failed inside the sidecar; see its log',
      });
      expect(r.body).not.toMatch(/secret|\/sidecar\/|at /);
    }
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/secret detail/); // the operator's log has it
    stderr.mockRestore();
    const nf = await get(s.url, '/api/nope');
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.body)).toMatchObject({ error: 'not_found' });
    const bad = await get(s.url, '/api/usage/users/%E0%A4%A'); // a route parameter that cannot be decoded
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/json/);
  });
});
