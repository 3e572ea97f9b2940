import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    // Every command with what it does, in one line each.
    expect(r.stdout).toContain(
      '\n  billing import  import provider billing exports (OpenAI, Anthropic, GCP, AWS CUR, Azure, generic JSONL)\n',
    );
    expect(r.stdout).toContain(
      '\n  up              run the whole pipeline on a laptop: local OTLP receiver + sidecar + status page\n',
    );
    expect(r.stdout).toContain('"npx spendline <command> --help" lists its options');
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

describe('on a Node older than engines.node', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const BIN = fileURLToPath(new URL('../bin/spendline.js', import.meta.url));
  const START = join(root, 'scripts', 'start.mjs');
  /** Runs `file` on this Node made to report `version` (what an older Node would say about itself). */
  const runAs = (version: string, file: string, args: string[]) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        `data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"${version}"}})`,
        file,
        ...args,
      ],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
  const engines = (
    JSON.parse(readFileSync(join(root, 'sidecar', 'package.json'), 'utf8')) as {
      engines: { node: string };
    }
  ).engines.node;

  it('`spendline` and `npm start` say in one line which Node they need, and exit 1', () => {
    expect(engines).toBe('>=20.10');
    for (const [file, args] of [
      [BIN, ['demo']],
      [START, []],
    ] as const) {
      for (const version of ['18.20.8', '20.9.0']) {
        const r = runAs(version, file, [...args]);
        expect([r.status, r.stdout]).toEqual([1, '']);
        expect(r.stderr).toBe(
          `spendline needs Node >=20.10; this is Node ${version} (${process.execPath}). Install a newer Node (https://nodejs.org/) and run \`npm install\` again, which rebuilds better-sqlite3 for it.\n`,
        );
      }
    }
  });

  it('runs on the oldest Node engines.node allows', () => {
    const r = runAs('20.10.0', BIN, ['--version']);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, 'spendline 0.1.0\n', '']);
  });
});

describe('in a clone before `npm install`', () => {
  it('`npm start` and `spendline` say to run npm install, in one line, not a stack trace', async () => {
    const { cpSync, mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const root = fileURLToPath(new URL('../..', import.meta.url));
    // The files a fresh clone has: scripts/, both package.json, sidecar/bin; no node_modules, no dist.
    const clone = mkdtempSync(join(tmpdir(), 'spendline-clone-'));
    try {
      cpSync(join(root, 'package.json'), join(clone, 'package.json'));
      cpSync(join(root, 'scripts'), join(clone, 'scripts'), { recursive: true });
      cpSync(join(root, 'sidecar', 'package.json'), join(clone, 'sidecar', 'package.json'));
      cpSync(join(root, 'sidecar', 'bin'), join(clone, 'sidecar', 'bin'), { recursive: true });
      const start = spawnSync(process.execPath, [join(clone, 'scripts', 'start.mjs')], {
        cwd: clone,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect([start.status, start.stdout, start.stderr]).toEqual([
        1,
        '',
        'npm start: the dependencies are not installed; run `npm install` first.\n',
      ]);
      const demo = spawnSync(process.execPath, [join(clone, 'sidecar', 'bin', 'spendline.js'), 'demo'], {
        cwd: clone,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect([demo.status, demo.stdout, demo.stderr]).toEqual([
        1,
        '',
        'spendline: the CLI is not built yet (sidecar/dist/cli.js is missing); run `npm install` (it builds too; after a pull, `npm run build`).\n',
      ]);
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });
});
