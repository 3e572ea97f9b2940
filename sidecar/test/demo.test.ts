import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';
import { runDemo } from '../src/demo/traffic.js';
import { type RunningReceiver, startOtlpReceiver } from '../src/receiver/index.js';

let dir: string | undefined;
let receiver: RunningReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('spendline demo', () => {
  it('sends one usage record per call, errors included, through the SDK into the local receiver', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-demo-'));
    const filePath = join(dir, 'export.jsonl');
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath });
    const summary = await runDemo({
      endpoint: receiver.url,
      requests: 40,
      rate: 0,
      seed: 7,
      serviceName: 'demo-test',
    });
    expect(summary.calls).toBe(40);
    expect(summary.telemetry).toMatchObject({
      recordsEmitted: 40,
      logsExported: 40,
      spansExported: 40,
      logsDropped: 0,
      logsFailed: 0,
    });

    const records = readFileSync(filePath, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .flatMap((l) => decodeOtlpJsonLine(l).records);
    const logs = records.filter((r) => r.source === 'log');
    const spans = records.filter((r) => r.source === 'span');
    expect(logs).toHaveLength(40);
    // The span of each call carries the same usage id as its event: counted once by the sidecar.
    expect(new Set(spans.map((r) => r.dedupKey))).toEqual(new Set(logs.map((r) => r.dedupKey)));
    expect(logs.filter((r) => r.status === 'error')).toHaveLength(summary.errors);
    expect(summary.errors).toBeGreaterThan(0);
    expect(new Set(logs.map((r) => r.service))).toEqual(new Set(['demo-test']));
    const perModel: Record<string, number> = {};
    for (const r of logs) perModel[r.requestModel] = (perModel[r.requestModel] ?? 0) + 1;
    expect(perModel).toEqual(summary.byModel);
    expect(logs.filter((r) => r.operation === 'embeddings')).toHaveLength(summary.embeddings);
    expect(logs.filter((r) => r.operation === 'ocr')).toHaveLength(summary.ocrJobs);
    expect(new Set(logs.map((r) => r.userId)).size).toBeGreaterThan(2);
    expect(new Set(logs.map((r) => r.feature)).size).toBeGreaterThan(2);
    // Cached and reasoning tokens arrive exactly as the fake provider reported them.
    const o3 = logs.find((r) => r.requestModel === 'o3-mini' && r.status === 'ok' && r.usageType === 'exact');
    if (o3)
      expect(o3.tokens).toMatchObject({ inputTokens: 1200, outputTokens: 900, reasoningOutputTokens: 640 });
  }, 60_000);

  it('ends by saying where its calls show and what to expect there', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    dir = mkdtempSync(join(tmpdir(), 'spendline-demo-cli-'));
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: join(dir, 'export.jsonl') });
    const args = [cli, 'demo', '--endpoint', receiver.url, '--requests', '30', '--rate', '0', '--seed', '3'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    const failed = Number(/^demo: 30 calls \((\d+) failed on purpose/m.exec(stdout)?.[1]);
    const errorsInFile = readFileSync(join(dir, 'export.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .flatMap((l) => decodeOtlpJsonLine(l).records)
      .filter((r) => r.source === 'log' && r.status === 'error').length;
    expect(failed).toBe(errorsInFile);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(
      `demo: done. Open the status page, http://127.0.0.1:9464/ (the address \`spendline up\` printed, if started with --listen): within seconds its Calls tile counts these 30 calls (${failed} failed on purpose, under service spendline-demo) with their spend and tokens. Or: npx spendline report --by model`,
    );
  }, 60_000);

  it('pointed at the OTLP/gRPC port, exits 1 saying the demo speaks OTLP/HTTP', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    dir = mkdtempSync(join(tmpdir(), 'spendline-demo-grpc-'));
    receiver = await startOtlpReceiver({
      host: '127.0.0.1',
      port: 0,
      filePath: join(dir, 'export.jsonl'),
      grpc: { host: '127.0.0.1', port: 0 },
    });
    const endpoint = receiver.grpcUrl as string;
    const child = spawn(
      process.execPath,
      [cli, 'demo', '--endpoint', endpoint, '--requests', '3', '--rate', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    // The SDK's own export warning may come first; the demo's verdict is the last line.
    expect(`${stderr.trimEnd().split('\n').at(-1)}\n`).toBe(
      `spendline: 6 log records/spans could not be exported to ${endpoint}; is \`npm start\` still running, and is this its OTLP/HTTP address (the demo does not speak gRPC)?\n`,
    );
  }, 60_000);

  it('exits 1 at once with a hint when nothing listens at the endpoint', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const { freePort } = await import('../../test/support/ports.js');
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const res = spawnSync(process.execPath, [cli, 'demo', '--endpoint', endpoint, '--requests', '5'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain(`nothing is listening at ${endpoint}; is \`npm start\` running?`);
    expect(res.stdout).not.toContain('calls (');
  }, 40_000);
});
