import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
import { apiTokenNote, stopReport } from '../src/commands/up.js';
import { runDemo } from '../src/demo/traffic.js';
import { freshDatabaseUrl } from './support/ledgerBackends.js';
import { ledgerTotals } from './support/sidecarHarness.js';
import { metricSum, startUpProcess, type UpProcess, waitForMetric } from './support/upProcess.js';

let dir: string | undefined;
let up: UpProcess | undefined;
afterEach(async () => {
  await up?.stop('SIGKILL');
  up = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('spendline up', () => {
  it('counts telemetry sent to its OTLP receiver, stops cleanly on Ctrl-C, and keeps every total across a restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-up-'));
    up = await startUpProcess(dir);
    expect(up.output()).toContain('OTLP_ENDPOINT=http://127.0.0.1:');
    // Started outside npm on a non-default port: the hint is the matching npx command.
    expect(up.output()).toContain(`Try: npx spendline demo --endpoint ${up.otlpUrl} `);
    const demo = await runDemo({
      endpoint: up.otlpUrl,
      requests: 25,
      rate: 0,
      seed: 11,
      serviceName: 'up-test',
    });
    expect(demo.telemetry).toMatchObject({ logsExported: 25, spansExported: 25 });
    await waitForMetric(up.sidecarUrl, 'llm_requests_total', 25);
    // Each call arrives twice (event and span) and is counted once.
    expect(await metricSum(up.sidecarUrl, 'llm_requests_total')).toBe(25);
    const tokens = await metricSum(up.sidecarUrl, 'llm_tokens_total');
    const overall = (await (await fetch(`${up.sidecarUrl}/api/usage/overall`)).json()) as {
      totals: { requests: number; errors: number; cost_usd: string; tokens: Record<string, number> };
    };
    expect(overall.totals.requests).toBe(25);
    expect(overall.totals.errors).toBe(demo.errors);
    expect(Object.values(overall.totals.tokens).reduce((a, b) => a + b, 0)).toBe(tokens);

    expect(await up.stop('SIGINT')).toBe(0);
    expect(up.output()).toContain(
      'stopped; every acknowledged request was read and committed to the ledger.',
    );
    expect(up.output()).not.toContain('records were rejected');
    expect(up.output()).not.toContain('answered 503');

    up = await startUpProcess(dir);
    await waitForMetric(up.sidecarUrl, 'llm_requests_total', 25);
    expect(await metricSum(up.sidecarUrl, 'llm_tokens_total')).toBe(tokens);
    const again = (await (await fetch(`${up.sidecarUrl}/api/usage/overall`)).json()) as {
      totals: { cost_usd: string };
    };
    expect(again.totals.cost_usd).toBe(overall.totals.cost_usd);
    expect(await up.stop('SIGTERM')).toBe(0);
  }, 90_000);

  it('counts into a shared PostgreSQL ledger with --ledger, its sidecar id kept in the state dir', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-up-pg-'));
    const ledgerUrl = await freshDatabaseUrl();
    up = await startUpProcess(dir, ['--ledger', ledgerUrl]);
    const demo = await runDemo({
      endpoint: up.otlpUrl,
      requests: 10,
      rate: 0,
      seed: 12,
      serviceName: 'up-pg',
    });
    expect(demo.calls).toBe(10);
    await waitForMetric(up.sidecarUrl, 'llm_requests_total', 10);
    const tokens = await metricSum(up.sidecarUrl, 'llm_tokens_total');
    expect(await up.stop('SIGTERM')).toBe(0);
    const inLedger = await ledgerTotals(dir, ledgerUrl);
    expect(inLedger.requests).toBe(10);
    expect(Object.values(inLedger.tokens).reduce((a, b) => a + b, 0)).toBe(tokens);
    // The ledger is PostgreSQL's: no SQLite file; the identity survives restarts in the state dir.
    expect(existsSync(join(dir, 'ledger.sqlite'))).toBe(false);
    expect(readFileSync(join(dir, 'sidecar-id'), 'utf8')).toMatch(/^sidecar-[0-9a-f]{12}\n$/);
  }, 90_000);

  it('prints the final counts as counted when nothing scraped /metrics (plain `npm start`, no Prometheus)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-up-counts-'));
    up = await startUpProcess(dir);
    const demo = await runDemo({
      endpoint: up.otlpUrl,
      requests: 12,
      rate: 0,
      seed: 5,
      serviceName: 'counts',
    });
    expect(demo.telemetry).toMatchObject({ logsExported: 12, spansExported: 12 });
    // Wait on the usage API, not /metrics: a scrape is what would release the first-increment hold.
    const deadline = Date.now() + 20_000;
    let requests = 0;
    while (requests < 12 && Date.now() < deadline) {
      const body = (await (await fetch(`${up.sidecarUrl}/api/usage/overall`)).json()) as {
        totals: { requests: number };
      };
      requests = body.totals.requests;
      if (requests < 12) await new Promise((r) => setTimeout(r, 100));
    }
    expect(requests).toBe(12);
    expect(await up.stop('SIGINT')).toBe(0);
    // Each call arrives as a log event and a span: 12 counted, 12 duplicates.
    expect(up.output()).toMatch(
      /spendline up: final counts: \d+ OTLP requests received, \d+ lines written; records: 12 counted, 12 duplicate, 0 rejected, 0 ignored\n/,
    );
  }, 90_000);

  it('a taken port is one line naming the listener and the flag that moves it, exit 1', async () => {
    const { spawn } = await import('node:child_process');
    const { createServer } = await import('node:net');
    const { fileURLToPath } = await import('node:url');
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    dir = mkdtempSync(join(tmpdir(), 'spendline-up-port-'));
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const cases: [string, string][] = [
        [
          'otlp-listen',
          `the OTLP/HTTP receiver cannot listen on 127.0.0.1:${port}: address already in use (another \`spendline up\` or collector? choose another address with --otlp-listen HOST:PORT)`,
        ],
        [
          'otlp-grpc-listen',
          `the OTLP/gRPC receiver cannot listen on 127.0.0.1:${port}: address already in use (another \`spendline up\` or collector? choose another address with --otlp-grpc-listen HOST:PORT, or --otlp-grpc-listen off)`,
        ],
        [
          'listen',
          `the HTTP server (status page, /metrics, /api) cannot listen on 127.0.0.1:${port}: address already in use (another \`spendline up\` or sidecar? choose another address with --listen HOST:PORT)`,
        ],
      ];
      for (const [flag, message] of cases) {
        const addresses: Record<string, string> = {
          'otlp-listen': `127.0.0.1:${await freePort()}`,
          'otlp-grpc-listen': `127.0.0.1:${await freePort()}`,
          listen: `127.0.0.1:${await freePort()}`,
          [flag]: `127.0.0.1:${port}`,
        };
        const args = [cli, 'up', '--state-dir', join(dir, flag)];
        for (const [name, value] of Object.entries(addresses)) args.push(`--${name}`, value);
        // Asynchronous spawn: the port is held by this process, whose event loop must keep running.
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
        expect({ flag, code, stdout, stderr }).toEqual({
          flag,
          code: 1,
          stdout: '',
          stderr: `spendline: could not start: ${message}\n`,
        });
      }
    } finally {
      taken.close();
    }
  }, 90_000);

  it('a state dir that cannot be written is one line naming it and --state-dir, exit 1 (up and sidecar)', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    dir = mkdtempSync(join(tmpdir(), 'spendline-up-statedir-'));
    const aFile = join(dir, 'a-file');
    writeFileSync(aFile, '');
    const readOnly = join(dir, 'read-only');
    mkdirSync(readOnly, { mode: 0o555 });
    // Root writes through any mode bits: as root, the command runs without the capabilities that let it
    // (util-linux `setpriv`), still the owner of the repository wherever it was cloned (a 0700 temp dir).
    const asRoot = process.getuid?.() === 0;
    const withoutDac = [
      '--inh-caps=-dac_override,-dac_read_search',
      '--bounding-set=-dac_override,-dac_read_search',
    ];
    const cases: [string, string, string][] = [
      [aFile, 'a file is in the way', ''],
      [join(aFile, 'state'), 'a file is in the way', ''],
      [readOnly, 'permission denied', 'user'],
      [join(readOnly, 'state'), 'permission denied', 'user'],
    ];
    for (const [stateDir, reason, who] of cases) {
      const commands: [string[], string][] = [
        [
          ['up', '--listen', '127.0.0.1:0', '--otlp-listen', '127.0.0.1:0', '--otlp-grpc-listen', 'off'],
          'spendline: could not start',
        ],
        [
          ['sidecar', '--otlp-file', join(dir, '*.json'), '--listen', '127.0.0.1:0'],
          'spendline sidecar: cannot start',
        ],
      ];
      for (const [args, prefix] of commands) {
        const argv = [cli, ...args, '--state-dir', stateDir];
        const unprivileged = who === 'user' && asRoot;
        const r = spawnSync(
          unprivileged ? 'setpriv' : process.execPath,
          unprivileged ? [...withoutDac, '--', process.execPath, ...argv] : argv,
          { encoding: 'utf8', timeout: 30_000 },
        );
        expect({ args: args[0], stateDir, status: r.status, stderr: r.stderr }).toEqual({
          args: args[0],
          stateDir,
          status: 1,
          stderr: `${prefix}: the state directory ${stateDir} cannot be written (${reason}); choose a writable one with --state-dir DIR (or SPENDLINE_STATE_DIR)\n`,
        });
      }
    }
  }, 90_000);

  it('--with-prometheus where Prometheus is not on the PATH says what to install, exit 1', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdirSync, symlinkSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    dir = mkdtempSync(join(tmpdir(), 'spendline-up-noprom-'));
    // A PATH with node only: no prometheus, and not even a shell to look them up with.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = spawnSync(
      process.execPath,
      [
        cli,
        'up',
        '--with-prometheus',
        '--state-dir',
        join(dir, 'state'),
        '--listen',
        '127.0.0.1:0',
        '--otlp-listen',
        '127.0.0.1:0',
        '--otlp-grpc-listen',
        'off',
      ],
      { encoding: 'utf8', timeout: 30_000, env: { PATH: bin } },
    );
    expect([r.status, r.stdout, r.stderr]).toEqual([
      1,
      '',
      'spendline: could not start: prometheus and alertmanager must be installed for --with-prometheus (Debian: apt-get install prometheus prometheus-alertmanager)\n',
    ]);
  }, 60_000);

  it('warns in the banner when the status page would show nothing: a non-loopback --listen without SPENDLINE_API_TOKEN', () => {
    const note =
      "Note: 0.0.0.0 is not loopback, so the usage API and the status page's figures stay off (401) until SPENDLINE_API_TOKEN is set; the page then asks for the token once.";
    expect(apiTokenNote('0.0.0.0', '')?.trim()).toBe(note);
    expect(apiTokenNote('192.168.1.20', '')).toContain('192.168.1.20 is not loopback');
    expect(apiTokenNote('[::]', '')).toContain('[::] is not loopback');
    expect(apiTokenNote('0.0.0.0', 'a-token')).toBeUndefined();
    for (const host of ['127.0.0.1', '127.0.0.2', '[::1]']) expect(apiTokenNote(host, '')).toBeUndefined();
  });

  it('says at stop only what it established: unread bytes, rejected records, failed writes', () => {
    expect(stopReport({ unreadBytes: 0, rejectedRecords: 0, writeFailures: 0 })).toEqual([
      'stopped; every acknowledged request was read and committed to the ledger.',
    ]);
    expect(stopReport({ unreadBytes: 512, rejectedRecords: 3, writeFailures: 2 })).toEqual([
      'stopped with 512 bytes of the export not yet read; the next start counts them.',
      '3 records were rejected, not counted (by reason in spendline_rejected_records_total).',
      '2 requests could not be written to the export file and were answered 503 (exporters retry them).',
    ]);
    expect(stopReport({ unreadBytes: -1, rejectedRecords: 0, writeFailures: 0 })[0]).toMatch(
      /could not confirm/,
    );
  });

  it('explains bad flags and exits 2', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const res = spawnSync(process.execPath, [cli, 'up', '--otlp-listen', 'nope'], { encoding: 'utf8' });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('--otlp-listen must be HOST:PORT');
    const grpc = spawnSync(process.execPath, [cli, 'up', '--otlp-grpc-listen', '4317'], { encoding: 'utf8' });
    expect(grpc.status).toBe(2);
    expect(grpc.stderr).toContain('--otlp-grpc-listen must be HOST:PORT');
    const help = spawnSync(process.execPath, [cli, 'up', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--with-prometheus');
    expect(help.stdout).toContain('--ledger URL');
    expect(help.stdout).toContain('--otlp-grpc-listen H:P|off');
  });
});
