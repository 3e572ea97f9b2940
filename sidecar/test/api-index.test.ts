import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSidecarArgs, type RunningSidecar, startSidecar } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'spendline-api-index-'));
let sidecar: RunningSidecar | undefined;
afterAll(async () => {
  await sidecar?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /api', () => {
  it('answers a JSON index of every API endpoint, extensions included', async () => {
    const file = join(dir, 'export.jsonl');
    writeFileSync(file, '');
    const parsed = parseSidecarArgs(['--otlp-file', file, '--state-dir', dir, '--listen', '127.0.0.1:0']);
    if (!parsed.ok || parsed.help) throw new Error('bad test flags');
    sidecar = await startSidecar(parsed.config);
    for (const path of ['/api', '/api/']) {
      const res = await fetch(`${sidecar.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/json');
      const body = (await res.json()) as { endpoints: { method: string; path: string }[]; docs: string };
      expect(body.docs).toBe('docs/api.md');
      expect(body.endpoints).toEqual(
        expect.arrayContaining([
          { method: 'GET', path: '/api' },
          { method: 'GET', path: '/api/usage' },
          { method: 'GET', path: '/api/usage/overall' },
          { method: 'GET', path: '/api/usage/users/:id' },
          { method: 'GET', path: '/api/usage/tasks/:id' },
          { method: 'GET', path: '/api/reconciliation' },
          { method: 'GET', path: '/api/budgets/check' },
          { method: 'GET', path: '/api/insights' },
          { method: 'GET', path: '/api/pipeline' },
        ]),
      );
      // Every listed endpoint exists: none answers the router's "no such endpoint" (an unknown id
      // may be a 404 of the endpoint itself, e.g. an unknown session).
      for (const e of body.endpoints) {
        if (e.path === '/api/stream') continue; // an event stream: it never ends
        const url = `${sidecar.url}${e.path.replace(':id', 'someone')}`;
        const r = await fetch(url);
        const text = await r.text();
        expect(text, e.path).not.toContain('no such endpoint');
      }
    }
  });
});
