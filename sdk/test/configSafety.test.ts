import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExportResult } from '@opentelemetry/core';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { instrumentOpenAI, recordLLMUsage, startTelemetry, type TelemetryHandle } from '../src/index.js';
import { BoundedBatchQueue } from '../src/telemetry/boundedBatchQueue.js';
import type { TelemetryOptions } from '../src/telemetry/options.js';
import { resolveConfig } from '../src/telemetry/resolveConfig.js';
import { activeRuntime, trackPending } from '../src/telemetry/runtime.js';
import { startFakeProvider } from '../src/testing/index.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlpReceiver.js';

/** The built SDK (`npm test` builds first), for tests that run a service as its own process. */
const SDK_DIST = new URL('../dist/index.js', import.meta.url).href;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  cleanups.push(() => r.close());
  return r;
}
const usage = { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 2 };

/** Starts the SDK with `options` (the raw, possibly ill-typed value a service might pass) and collects warnings. */
function startWith(options: unknown): { t: TelemetryHandle; warnings: string[] } {
  const warnings: string[] = [];
  const t = startTelemetry({
    onWarning: (m: string) => warnings.push(m),
    ...(options as TelemetryOptions),
  });
  cleanups.push(() => t.shutdown());
  return { t, warnings };
}

async function instrumentedCallSucceeds(): Promise<void> {
  const f = await startFakeProvider();
  cleanups.push(() => f.close());
  const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: f.openaiBaseURL, maxRetries: 0 }));
  const reply = await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
  });
  expect(reply.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
}

describe('bad configuration never throws: one warning, a fallback, a working handle', () => {
  // Each case: the bad value, where records then go, and the name the warning must carry.
  const cases: { name: string; options: (collector: string) => unknown; problem: RegExp }[] = [
    {
      name: "endpoint: 'not a url'",
      options: (c) => ({
        endpoint: 'not a url',
        env: {
          OTLP_ENDPOINT: undefined,
          OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${c}/v1/logs`,
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${c}/v1/traces`,
        },
      }),
      problem: /endpoint option "not a url"/,
    },
    {
      name: 'port 99999',
      options: (c) => ({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:99999', OTLP_ENDPOINT: c } }),
      problem: /OTEL_EXPORTER_OTLP_ENDPOINT "http:\/\/127\.0\.0\.1:99999"/,
    },
    {
      name: "OTLP_ENDPOINT='::::'",
      options: (c) => ({ endpoint: c, env: { OTLP_ENDPOINT: '::::' } }),
      problem: /OTLP_ENDPOINT "::::"/,
    },
    {
      name: 'a per-signal endpoint that is not http(s)',
      options: (c) => ({ env: { OTLP_ENDPOINT: c, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'ftp://x/v1/logs' } }),
      problem: /OTEL_EXPORTER_OTLP_LOGS_ENDPOINT "ftp:\/\/x\/v1\/logs"/,
    },
    {
      name: 'exportTimeoutMillis: -1',
      options: (c) => ({ endpoint: c, env: {}, exportTimeoutMillis: -1 }),
      problem: /exportTimeoutMillis -1/,
    },
    {
      name: 'exportTimeoutMillis: Infinity',
      options: (c) => ({ endpoint: c, env: {}, exportTimeoutMillis: Number.POSITIVE_INFINITY }),
      problem: /exportTimeoutMillis Infinity/,
    },
    {
      name: 'maxQueueSize: 0',
      options: (c) => ({ endpoint: c, env: {}, maxQueueSize: 0 }),
      problem: /maxQueueSize 0/,
    },
    {
      name: "scheduledDelayMillis: '5'",
      options: (c) => ({ endpoint: c, env: {}, scheduledDelayMillis: '5' }),
      problem: /scheduledDelayMillis "5"/,
    },
    {
      name: 'shutdownTimeoutMillis: NaN',
      options: (c) => ({ endpoint: c, env: {}, shutdownTimeoutMillis: Number.NaN }),
      problem: /shutdownTimeoutMillis NaN/,
    },
    {
      name: 'warningIntervalMillis: -1',
      options: (c) => ({ endpoint: c, env: {}, warningIntervalMillis: -1 }),
      problem: /warningIntervalMillis -1/,
    },
    {
      name: "headers: 'abc'",
      options: (c) => ({ endpoint: c, env: {}, headers: 'abc' }),
      problem: /headers \(a string\) is not an object/,
    },
    {
      name: 'a header value with CR/LF',
      options: (c) => ({ endpoint: c, env: {}, headers: { 'x-ok': '1', 'x-bad': 'a\r\nInjected: yes' } }),
      problem: /header "x-bad"/,
    },
    {
      name: 'resourceAttributes: 5',
      options: (c) => ({ endpoint: c, env: {}, resourceAttributes: 5 }),
      problem: /resourceAttributes 5/,
    },
    {
      name: 'serviceName: {}',
      options: (c) => ({ endpoint: c, env: {}, serviceName: {} }),
      problem: /serviceName object/,
    },
    {
      name: 'priceOverrides: 5',
      options: (c) => ({ endpoint: c, env: {}, priceOverrides: 5 }),
      problem: /priceOverrides 5/,
    },
    {
      name: "captureContent: 'yes'",
      options: (c) => ({ endpoint: c, env: {}, captureContent: 'yes' }),
      problem: /captureContent "yes"/,
    },
    { name: 'env: 42', options: (c) => ({ endpoint: c, env: 42 }), problem: /env 42/ },
    {
      name: 'a non-string environment value',
      options: (c) => ({ endpoint: c, env: { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 7 } }),
      problem: /env\.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT 7 is not a string/,
    },
  ];

  it('a refused resource value never reaches the records: the valid ones are kept', async () => {
    const r = await receiver();
    const { t } = startWith({
      endpoint: r.url,
      env: {},
      serviceName: { not: 'a string' },
      resourceAttributes: { 'team.name': 'search', 'bad.object': { x: 1 }, 'bad.nan': Number.NaN },
    });
    expect(t.configProblems).toHaveLength(3);
    expect(recordLLMUsage(usage).ok).toBe(true);
    await t.forceFlush();
    const resource = r.logs()[0]?.resource;
    expect(resource?.['team.name']).toBe('search');
    expect(resource?.['service.name']).toBe('unknown_service:node');
    expect(resource?.['bad.object']).toBeUndefined();
    expect(resource?.['bad.nan']).toBeUndefined();
  });

  for (const c of cases) {
    it(`${c.name}: warns once naming it, records still reach the collector, calls succeed`, async () => {
      const r = await receiver();
      let t: TelemetryHandle | undefined;
      let warnings: string[] = [];
      expect(() => {
        ({ t, warnings } = startWith(c.options(r.url)));
      }).not.toThrow();
      if (!t) throw new Error('no handle');
      expect(t.disabled).toBe(false);
      expect(t.configProblems).toHaveLength(1);
      expect(t.configProblems[0]).toMatch(c.problem);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(c.problem);
      expect(recordLLMUsage(usage).ok).toBe(true);
      await instrumentedCallSucceeds();
      await t.shutdown();
      expect(t.stats()).toMatchObject({ recordsEmitted: 2, logsExported: 2, spansExported: 2 });
      expect(warnings).toHaveLength(1); // nothing else went wrong
    });
  }

  it('warnings never echo header values or URL credentials', () => {
    const { t, warnings } = startWith({
      env: { OTLP_ENDPOINT: 'http://user:s3cret@:99999' },
      headers: 'Bearer s3cret',
      shutdownTimeoutMillis: 50,
    });
    expect(t.configProblems).toHaveLength(2);
    expect(warnings.join('\n')).not.toContain('s3cret');
  });

  it('an endpoint with no valid fallback uses the default localhost:4318 and still never throws', () => {
    const { t, warnings } = startWith({ endpoint: 'not a url', env: {}, shutdownTimeoutMillis: 50 });
    expect(t.endpoints).toEqual({
      logsUrl: 'http://localhost:4318/v1/logs',
      tracesUrl: 'http://localhost:4318/v1/traces',
    });
    expect(warnings).toHaveLength(1);
  });

  it('options that are not an object, and a throwing warning sink, still give a working handle', async () => {
    const t = startTelemetry('garbage' as unknown as TelemetryOptions);
    cleanups.push(() => t.shutdown());
    expect(t.configProblems[0]).toMatch(/options "garbage" is not an object/);
    const t2 = startTelemetry({
      env: { SPENDLINE_DISABLED: 'true' },
      maxQueueSize: -1,
      onWarning: () => {
        throw new Error('sink broken');
      },
    });
    expect(t2.disabled).toBe(true);
    await t2.shutdown();
  });
});

describe('maxExportBatchSize of 0, -5 or "abc" (issue 15 #3): no busy loop, records exported', () => {
  for (const bad of [0, -5, 'abc'] as unknown[]) {
    it(`maxExportBatchSize ${JSON.stringify(bad)}: default 512 is used, shutdown returns, every record exported`, async () => {
      const r = await receiver();
      const { t, warnings } = startWith({
        endpoint: r.url,
        env: {},
        maxExportBatchSize: bad,
        scheduledDelayMillis: 60_000,
      });
      for (let i = 0; i < 3; i++) expect(recordLLMUsage(usage).ok).toBe(true);
      await t.shutdown();
      expect(t.stats()).toMatchObject({
        recordsEmitted: 3,
        logsExported: 3,
        spansExported: 3,
        logsFailed: 0,
      });
      // One request per signal: no stream of empty POSTs.
      expect(r.requests.map((q) => q.path).sort()).toEqual(['/v1/logs', '/v1/traces']);
      expect(r.logs()).toHaveLength(3);
      expect(warnings).toEqual([expect.stringMatching(/maxExportBatchSize .* using 512/)]);
    });
  }

  it('the queue itself never takes batches smaller than one item', async () => {
    const sent: number[][] = [];
    const exporter = {
      export(items: number[], done: (r: ExportResult) => void) {
        sent.push(items);
        done({ code: 0 });
      },
      shutdown: async () => {},
    };
    let exported = 0;
    const q = new BoundedBatchQueue<number>(
      exporter,
      {
        maxQueueSize: 10,
        maxExportBatchSize: Number.NaN,
        scheduledDelayMillis: 60_000,
        exportTimeoutMillis: 1000,
        shutdownTimeoutMillis: 1000,
      },
      {
        exported: (n) => {
          exported += n;
        },
        failed: () => {},
        dropped: () => {},
        unsent: () => {},
      },
    );
    for (let i = 0; i < 4; i++) q.add(i);
    await q.shutdown();
    expect(exported).toBe(4);
    expect(sent).toEqual([[0], [1], [2], [3]]);
  });
});

describe('shutdown() with a hanging collector is bounded (issue 15 #10)', () => {
  it('defaults to a 5 s deadline', () => {
    expect(resolveConfig({}, {}).limits.shutdownTimeoutMillis).toBe(5000);
  });

  it('returns at shutdownTimeoutMillis although the export timeout is a minute, counting what was not sent', async () => {
    const r = await receiver();
    r.setMode({ kind: 'hang' });
    const { t, warnings } = startWith({
      endpoint: r.url,
      env: {},
      maxExportBatchSize: 2,
      scheduledDelayMillis: 60_000,
      exportTimeoutMillis: 60_000,
      shutdownTimeoutMillis: 300,
    });
    // 5 records: a batch of 2 goes out and hangs, 3 wait behind it.
    for (let i = 0; i < 5; i++) expect(recordLLMUsage(usage).ok).toBe(true);
    await t.shutdown(); // the test's timeout (well under the 60 s export timeout) bounds this
    const s = t.stats();
    expect(s).toMatchObject({
      logsUnsent: 5,
      spansUnsent: 5,
      logsExported: 0,
      logsFailed: 0,
      spansFailed: 0,
    });
    expect(warnings).toEqual([expect.stringMatching(/logs failed\/dropped\/unsent: 0\/0\/5/)]);
    // A second shutdown is the same finished one; nothing is counted twice.
    await t.shutdown();
    expect(t.stats().logsUnsent).toBe(5);
  }, 20_000);

  it('counts a record still being finished at the deadline (a tokenizer estimate) as unsent, with the warning', async () => {
    const r = await receiver();
    const { t, warnings } = startWith({
      endpoint: r.url,
      env: {},
      scheduledDelayMillis: 60_000,
      shutdownTimeoutMillis: 200,
    });
    expect(recordLLMUsage(usage).ok).toBe(true);
    await t.forceFlush();
    const rt = activeRuntime();
    if (rt === undefined) throw new Error('no runtime');
    // A record whose estimate never finishes (as a tokenizer still loading at shutdown).
    trackPending(rt, new Promise(() => {}));
    await t.shutdown();
    expect(t.stats()).toMatchObject({ logsExported: 1, logsUnsent: 1 });
    expect(warnings).toEqual([expect.stringMatching(/logs failed\/dropped\/unsent: 0\/0\/1/)]);
  });

  it('closes abandoned requests: a process whose collector hangs exits right after shutdown()', async () => {
    let open = 0;
    let connections = 0;
    const hang = createServer(() => {}); // accepts requests, never answers
    hang.on('connection', (socket) => {
      open++;
      connections++;
      socket.once('close', () => open--);
    });
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          hang.closeAllConnections();
          hang.close(() => resolve());
        }),
    );
    // A service process (the built SDK): exports hang for up to a minute; it shuts down when told.
    const script = `
      import { recordLLMUsage, startTelemetry } from ${JSON.stringify(SDK_DIST)};
      const t = startTelemetry({ endpoint: process.argv[1], env: {}, scheduledDelayMillis: 0,
        exportTimeoutMillis: 60000, shutdownTimeoutMillis: 300, onWarning: () => {} });
      recordLLMUsage({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1 });
      process.stdin.once('data', async () => {
        process.stdin.destroy();
        await t.shutdown();
        process.stdout.write(JSON.stringify(t.stats()));
      });`;
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', script, `http://127.0.0.1:${(hang.address() as AddressInfo).port}`],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    for (let i = 0; i < 2000 && open < 2 && child.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(open).toBe(2); // one hanging request per signal
    child.stdin?.write('go\n');
    // The export timeout is a minute; the test's 30 s timeout bounds this wait.
    expect(await exited).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ logsUnsent: 1, spansUnsent: 1, logsFailed: 0 });
    expect(connections).toBe(2); // no retry reconnected after shutdown
  }, 30_000);
});

describe('standard batch-processor and timeout variables', () => {
  it('fill each signal queue setting not given as an option; an option in code wins; a bad value is named', () => {
    const c = resolveConfig(
      {},
      {
        OTEL_BLRP_MAX_QUEUE_SIZE: '100',
        OTEL_BLRP_SCHEDULE_DELAY: '250',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50',
        OTEL_BSP_SCHEDULE_DELAY: 'soon',
        OTEL_EXPORTER_OTLP_TIMEOUT: '3000',
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '7000',
      },
    );
    expect(c.logsLimits).toEqual({
      maxQueueSize: 100,
      maxExportBatchSize: 100,
      scheduledDelayMillis: 250,
      exportTimeoutMillis: 3000,
      shutdownTimeoutMillis: 5000,
    });
    expect(c.tracesLimits).toEqual({
      maxQueueSize: 2048,
      maxExportBatchSize: 50,
      scheduledDelayMillis: 1000,
      exportTimeoutMillis: 7000,
      shutdownTimeoutMillis: 5000,
    });
    expect(c.problems).toEqual([
      'OTEL_BSP_SCHEDULE_DELAY "soon" is not an integer in 0..2147483647; ignored',
    ]);
    const o = resolveConfig(
      { scheduledDelayMillis: 10, maxQueueSize: 7 },
      { OTEL_BLRP_SCHEDULE_DELAY: '250', OTEL_BSP_MAX_QUEUE_SIZE: '9' },
    );
    expect([o.logsLimits.scheduledDelayMillis, o.tracesLimits.maxQueueSize]).toEqual([10, 7]);
  });

  it('bound the real queues: OTEL_BLRP_MAX_QUEUE_SIZE and OTEL_BSP_MAX_QUEUE_SIZE decide what is dropped', async () => {
    const r = await receiver();
    r.setMode({ kind: 'hang' });
    const { t } = startWith({
      env: {
        OTLP_ENDPOINT: r.url,
        OTEL_BLRP_MAX_QUEUE_SIZE: '5',
        OTEL_BSP_MAX_QUEUE_SIZE: '3',
        OTEL_BLRP_SCHEDULE_DELAY: '60000',
        OTEL_BSP_SCHEDULE_DELAY: '60000',
      },
      shutdownTimeoutMillis: 200,
    });
    for (let i = 0; i < 12; i++)
      recordLLMUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
    // Logs: a first batch of 5 goes out, 5 wait, 2 are dropped. Spans: 3 out, 3 wait, 6 dropped.
    expect(t.stats()).toMatchObject({ recordsEmitted: 12, logsDropped: 2, spansDropped: 6 });
  });
});
