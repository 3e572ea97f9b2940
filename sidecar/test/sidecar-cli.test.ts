import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, 'sidecar', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 15_000,
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
