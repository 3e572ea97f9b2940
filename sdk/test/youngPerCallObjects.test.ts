import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The built SDK (`npm test` builds first): the child runs it as a service would. */
const SDK_DIST = fileURLToPath(new URL('../dist', import.meta.url));
const CHILD = fileURLToPath(new URL('./support/youngObjectsChild.mjs', import.meta.url));

type Counts = Record<string, { young: number; old: number }>;

function runChild(): Promise<Counts> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--allow-natives-syntax', CHILD, SDK_DIST], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`child exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Counts);
    });
  });
}

/**
 * What a call keeps until its export is allocated young. V8 pretenures an object literal with
 * properties whose objects it sees survive (allocates them in the old generation), and each call's
 * attributes and span context do survive until the next export: written as such literals (the build
 * before session 17), every one of them was allocated old, which made every instrumented call slower
 * (docs/performance.md, session 17). Checked with V8's own `%InYoungGeneration`, on 3,000 instrumented
 * calls against the loopback fake provider after 1,500 to warm up.
 */
describe('objects a call keeps until its export', () => {
  it('are allocated in the young generation, not pretenured', async () => {
    const counts = await runChild();
    for (const kind of ['span', 'span attributes', 'span context', 'log record', 'log record attributes']) {
      const c = counts[kind];
      expect(c, kind).toBeDefined();
      expect((c?.young ?? 0) + (c?.old ?? 0), kind).toBe(3_000);
      // A call in flight across two scavenges is promoted the ordinary way: allowed, rarely.
      expect(c?.old ?? 0, kind).toBeLessThanOrEqual(30);
    }
  }, 120_000);
});
