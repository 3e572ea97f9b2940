import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, 'sidecar', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 60_000,
  });

describe('the spendline command in a checkout', () => {
  it('runs as `npx spendline` after npm install (the linked bin shim), and its help says how to run it', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    // --offline: if the bin were not linked, npx must fail here rather than fetch a package.
    const r = spawnSync('npx', ['--offline', 'spendline', '--help'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: spendline <command>');
    expect(r.stdout).toContain('"npx spendline <command>"');
    expect(r.stdout).toContain('"npm run spendline -- <command>"');
    expect(r.stdout).toContain('(run "npx spendline billing import --help")');
  });
});

describe('spendline sidecar command line', () => {
  it('explains every flag and its environment variable under --help', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const flag of [
      'otlp-file',
      'usage-jsonl',
      'state-dir',
      'listen',
      'prices',
      'billing',
      'budgets',
      'max-line-bytes',
      'dedup-window',
      'label-cap',
    ]) {
      expect(r.stdout).toContain(`--${flag}`);
      expect(r.stdout).toContain(`SPENDLINE_${flag.toUpperCase().replace(/-/g, '_')}`);
    }
  });

  it('exits 2 with a reason for bad input', () => {
    const none = run([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('nothing to read');
    const badEnv = run([], { SPENDLINE_OTLP_FILE: 'x.json', SPENDLINE_MAX_LINE_BYTES: 'lots' });
    expect(badEnv.status).toBe(2);
    expect(badEnv.stderr).toContain('--max-line-bytes must be a positive integer');
  });
});
