import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
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
  // Flags the parser refuses: the reason and where the help is, on one line (not the whole help).
  const parseErrors: [string[], string][] = [
    [['up', '--bogus'], `spendline: Unknown option '--bogus' (run "npx spendline up --help")`],
    [
      ['demo', '--requests', '-1'],
      `spendline: Option '--requests' argument is ambiguous. Did you forget to specify the option argument for '--requests'? To specify an option argument starting with a dash use '--requests=-XYZ'. (run "npx spendline demo --help")`,
    ],
    [
      ['report', 'extra'],
      `spendline: Unexpected argument 'extra'. This command does not take positional arguments (run "npx spendline report --help")`,
    ],
    [
      ['ledger', 'compact', '--x'],
      `spendline: Unknown option '--x' (run "npx spendline ledger compact --help")`,
    ],
    [['billing', 'import'], `spendline: no file given (run "npx spendline billing import --help")`],
    [['bogus'], `spendline: unknown command "bogus" (run "npx spendline --help")`],
  ];
  for (const [args, message] of parseErrors) {
    it(`spendline ${args.join(' ')}`, () => {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
      expect([r.status, r.stdout, r.stderr]).toEqual([2, '', `${message}\n`]);
    });
  }
  it('a valid tolerance still reconciles (exit 0 on an empty ledger)', () => {
    const r = run('reconcile', '--tolerance', '2.5', '--days-back', '3660');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

/** One message line, no stack trace. */
function expectOneLine(stderr: string): void {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at |file:\/\//);
}

describe('--ledger: a bad value is one line and exit 2; an unreachable ledger is named without its password', () => {
  const LEDGER_COMMANDS = [['report'], ['ledger', 'compact']];
  const bad: [string, RegExp][] = [
    ['not a url', /^spendline: --ledger: the ledger URL is not a URL \(expected postgres:\/\/user/],
    [
      'mysql://app:pw@127.0.0.1/ledger',
      /^spendline: --ledger: the ledger URL must be postgres:\/\/ or postgresql:\/\/ \(got mysql:\)/,
    ],
    ['postgres://', /^spendline: --ledger: the ledger URL names no host/],
  ];
  for (const command of LEDGER_COMMANDS)
    for (const [url, message] of bad) {
      it(`spendline ${command.join(' ')} --ledger ${JSON.stringify(url)}`, () => {
        const r = run(...command, '--ledger', url);
        expect([r.status, r.stdout]).toEqual([2, '']);
        expect(r.stderr).toMatch(message);
        expectOneLine(r.stderr);
      });
    }

  it('SPENDLINE_LEDGER_URL is checked the same way', () => {
    const r = spawnSync(process.execPath, [CLI, 'report'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, SPENDLINE_LEDGER_URL: 'mysql://127.0.0.1/ledger' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^spendline: --ledger: the ledger URL must be postgres:\/\//);
    expectOneLine(r.stderr);
  });

  it('an unreachable PostgreSQL: exit 1, the URL without its password', async () => {
    const port = await freePort(); // bound and released: nothing listens there
    const secret = 'S3cret-Pa55word';
    for (const command of LEDGER_COMMANDS) {
      const r = run(...command, '--ledger', `postgres://spendline:${secret}@127.0.0.1:${port}/ledger`);
      expect([r.status, r.stdout]).toEqual([1, '']);
      expect(r.stderr).toMatch(
        new RegExp(
          `^spendline: cannot open ledger postgres://spendline:\\*\\*\\*@127\\.0\\.0\\.1:${port}/ledger: .*ECONNREFUSED`,
        ),
      );
      expect(r.stderr).not.toContain(secret);
      expectOneLine(r.stderr);
    }
  });

  it('a state directory without a ledger: exit 1, "no ledger at"', () => {
    const empty = tempDir('spendline-no-ledger-');
    try {
      for (const command of LEDGER_COMMANDS) {
        const r = spawnSync(process.execPath, [CLI, ...command, '--state-dir', empty.dir], {
          encoding: 'utf8',
          timeout: 30_000,
        });
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(
          `spendline: no ledger at ${join(empty.dir, 'ledger.sqlite')} (is --state-dir right? the sidecar creates it; or give --ledger postgres://…)\n`,
        );
      }
    } finally {
      empty.cleanup();
    }
  });
});
