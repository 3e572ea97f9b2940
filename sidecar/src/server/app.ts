import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import express, { type Express, type Router } from 'express';
import type { Registry } from 'prom-client';
import { requireApiToken } from '../api/auth.js';
import { type BoundAddress, isLoopbackAddress, requireLoopbackHost } from './hostCheck.js';
import { apiNotFound, jsonErrors, noStore, notFound, securityHeaders } from './httpHardening.js';

export interface AppOptions {
  registry: Registry;
  /** Called on every /metrics scrape before rendering (the first-increment hold counts scrapes). */
  onScrape?: () => void;
  /** True once the backlog present at start has been read and committed. */
  isReady(): boolean;
  apiToken: string | undefined;
  /** Served at `/` when the folder exists (the status page). */
  publicDir: string | undefined;
}

export interface SidecarApp {
  app: Express;
  /** Where extensions mount their `/api` routes. */
  api: Router;
  /** Tells the app the address it is bound to (after listen): loopback is decided from it. */
  bind(address: AddressInfo): void;
  /** Adds the 404 and error handlers; call after every route is mounted. */
  seal(): void;
}

/** The sidecar's HTTP surface: /metrics, /healthz, /readyz, /api (behind the bearer token), static `/`. */
export function createApp(options: AppOptions): SidecarApp {
  const app = express();
  const token = options.apiToken ?? '';
  let bound: BoundAddress | undefined;
  const loopback = (): boolean => bound !== undefined && isLoopbackAddress(bound.address);
  app.disable('x-powered-by');
  app.use(securityHeaders);
  app.use(requireLoopbackHost(() => (token === '' && loopback() ? bound : undefined)));
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', options.registry.contentType);
    options.onScrape?.();
    res.send(await options.registry.metrics());
  });
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    if (options.isReady()) res.type('text/plain').send('ready\n');
    else res.status(503).type('text/plain').send('reading backlog\n');
  });
  const api = express.Router();
  api.get('/', (_req, res) => {
    res.json({ endpoints: apiEndpoints(api), docs: 'docs/api.md' });
  });
  app.use(
    '/api',
    noStore,
    requireApiToken({ token: options.apiToken, loopbackOnly: loopback }),
    api,
    apiNotFound,
  );
  if (options.publicDir !== undefined && existsSync(options.publicDir)) {
    // The charting library is served from its installed package (no CDN: nothing is fetched from the
    // internet): the two files the status page loads.
    const uplotDist = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));
    for (const file of ['uPlot.esm.js', 'uPlot.min.css'])
      app.get(`/vendor/${file}`, (_req, res) => res.sendFile(join(uplotDist, file)));
    // No redirect from a directory path to its slash form: it answered Express' HTML page with a
    // Location echoing the request (`/\evil.test/..`), and the page has no directories to list.
    app.use(express.static(options.publicDir, { redirect: false }));
  }
  let sealed = false;
  return {
    app,
    api,
    bind(address) {
      bound = { address: address.address, family: address.family, port: address.port };
    },
    seal() {
      if (sealed) return;
      sealed = true;
      app.use(notFound);
      app.use(jsonErrors);
    },
  };
}

interface RouteLayer {
  route?: { path: unknown; methods: Record<string, boolean> };
  /** A nested router mounted with `use(router)` (at the router's root: `slash`). */
  handle?: { stack?: unknown };
  slash?: boolean;
}

/**
 * `GET /api`: every endpoint mounted on the API router, read from the router itself at request time
 * so that routes extensions add (usage, reconciliation, insights, …) are listed too. Nested routers
 * are read when mounted at the router's root, as every API module is.
 */
function apiEndpoints(api: Router): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  const walk = (stack: RouteLayer[]) => {
    for (const layer of stack) {
      const route = layer.route;
      if (route !== undefined && typeof route.path === 'string') {
        const path = `/api${route.path === '/' ? '' : route.path}`;
        for (const [method, on] of Object.entries(route.methods)) {
          if (on && method !== '_all') out.push({ method: method.toUpperCase(), path });
        }
      } else if (layer.slash === true && Array.isArray(layer.handle?.stack)) {
        walk(layer.handle.stack as RouteLayer[]);
      }
    }
  };
  walk((api as unknown as { stack: RouteLayer[] }).stack);
  return out;
}
