import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, waitForHttpOk } from '../../../test/support/ports.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface UpProcess {
  otlpUrl: string;
  /** The OTLP/gRPC endpoint from the banner (a free port; undefined with --otlp-grpc-listen off). */
  otlpGrpcUrl: string | undefined;
  sidecarUrl: string;
  child: ChildProcess;
  output(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the built `spendline up` as a child process on free loopback ports (npm test builds dist first). */
export async function startUpProcess(
  /** undefined: no --state-dir (the default ./.spendline under `cwd`). */
  stateDir: string | undefined,
  extraArgs: string[] = [],
  options: { cwd?: string } = {},
): Promise<UpProcess> {
  const otlpPort = await freePort();
  const sidecarPort = await freePort();
  let out = '';
  const child = spawn(
    process.execPath,
    [
      CLI,
      'up',
      ...(stateDir === undefined ? [] : ['--state-dir', stateDir]),
      '--otlp-listen',
      `127.0.0.1:${otlpPort}`,
      '--listen',
      `127.0.0.1:${sidecarPort}`,
      // Any free port (parallel tests must not all take 4317); given after, extraArgs may override.
      '--otlp-grpc-listen',
      '127.0.0.1:0',
      ...extraArgs,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SPENDLINE_API_TOKEN: '' },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    },
  );
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const sidecarUrl = `http://127.0.0.1:${sidecarPort}`;
  try {
    await waitForHttpOk(`${sidecarUrl}/healthz`, 20_000, () => child.exitCode === null);
    // The sidecar answers before the receiver (and Prometheus) are up: wait for the banner too.
    const deadline = Date.now() + 60_000;
    while (!out.includes('spendline is up.') && child.exitCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    if (!out.includes('spendline is up.')) throw new Error('no "spendline is up." banner');
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`spendline up did not start: ${(err as Error).message}\n${out}`);
  }
  return {
    otlpUrl: `http://127.0.0.1:${otlpPort}`,
    otlpGrpcUrl: /^ {2}OTLP\/gRPC +(\S+)$/m.exec(out)?.[1],
    sidecarUrl,
    child,
    output: () => out,
    stop: async (signal = 'SIGINT') => {
      if (child.exitCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Sum of every sample of a metric in a Prometheus text exposition. */
export async function metricSum(sidecarUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${sidecarUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export async function waitForMetric(
  sidecarUrl: string,
  name: string,
  expected: number,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = Number.NaN;
  while (Date.now() < deadline) {
    last = await metricSum(sidecarUrl, name);
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} stayed at ${last}, expected ${expected}`);
}
