import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Express, type Router } from 'express';
import type { Registry } from 'prom-client';
import { requireApiToken } from '../api/auth.js';

export interface AppOptions {
  registry: Registry;
  /** True once the backlog present at start has been read and committed. */
  isReady(): boolean;
  apiToken: string | undefined;
  /** True when the listen address is loopback (the API may then run without a token). */
  loopbackOnly: boolean;
  /** Served at `/` when the folder exists (the status page). */
  publicDir: string | undefined;
}

/** The sidecar's HTTP surface: /metrics, /healthz, /readyz, /api (behind the bearer token), static `/`. */
export function createApp(options: AppOptions): { app: Express; api: Router } {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', options.registry.contentType);
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
  app.use('/api', requireApiToken({ token: options.apiToken, loopbackOnly: options.loopbackOnly }), api);
  if (options.publicDir !== undefined && existsSync(options.publicDir)) {
    // The charting library is served from its installed package (no CDN: nothing is fetched from the
    // internet): the two files the status page loads.
    const uplotDist = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));
    for (const file of ['uPlot.esm.js', 'uPlot.min.css'])
      app.get(`/vendor/${file}`, (_req, res) => res.sendFile(join(uplotDist, file)));
    app.use(express.static(options.publicDir));
  }
  return { app, api };
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
