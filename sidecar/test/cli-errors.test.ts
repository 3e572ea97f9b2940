import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openLedgerDb } from '../src/ledger/openLedger.js';
import { tempDir } from './support/sidecarHarness.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const t = tempDir('spendline-cli-errors-');
afterAll(() => t.cleanup());
openLedgerDb(join(t.dir, 'ledger.sqlite')).close(); // an empty ledger: the commands get past opening it

const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args, '--state-dir', t.dir], { encoding: 'utf8', timeout: 30_000 });

describe('every CLI error is one message and exit code 2 (issue 15 #12)', () => {
  const cases: [string[], RegExp][] = [
    [['reconcile', '--tolerance', '1e308'], /--tolerance must be a percentage 0\.\.1000/],
    [['reconcile', '--tolerance=-1'], /--tolerance must be a percentage/],
    [['reconcile', '--tolerance', '5%'], /--tolerance must be a percentage/],
    [['reconcile', '--days-back', '99999999999999'], /--days-back must be an integer 1\.\.3660/],
    [['report', '--days-back', '99999999999999'], /--days-back must be an integer 1\.\.3660/],
    [['insights', '--days-back', '99999999999999'], /--days-back must be an integer 1\.\.3660/],
    [
      ['ledger', 'compact', '--hourly-retention-days', '99999999999999'],
      /--hourly-retention-days must be an integer 1\.\.3660/,
    ],
  ];
  for (const [args, message] of cases) {
    it(`spendline ${args.join(' ')}`, () => {
      const r = run(...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1); // a message, no stack trace
      expect(r.stderr).not.toMatch(/\n\s+at |RangeError|file:\/\//);
    });
  }
  it('a valid tolerance still reconciles (exit 0 on an empty ledger)', () => {
    const r = run('reconcile', '--tolerance', '2.5', '--days-back', '3660');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
