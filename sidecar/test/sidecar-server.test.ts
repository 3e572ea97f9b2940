import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
import { startPrometheus } from '../../test/support/prometheus.js';
import type { SidecarConfig } from '../src/config.js';
import { parseSidecarArgs, sidecarHelp } from '../src/config.js';
import { startSidecar } from '../src/index.js';
import { DEFAULT_LABEL_CAPS } from '../src/pipeline/labelCaps.js';
import { sumSamples } from './support/metricsText.js';
import { generateUsageLines } from './support/otlpLines.js';
import { tempDir } from './support/sidecarHarness.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function baseConfig(dir: string, port: number, extra: Partial<SidecarConfig> = {}): SidecarConfig {
  return {
    otlpGlobs: [join(dir, 'genai.json')],
    jsonlGlobs: [],
    stateDir: join(dir, 'state'),
    listen: { host: '127.0.0.1', port },
    pricesFile: undefined,
    billingGlobs: [],
    budgetsFile: undefined,
    maxLineBytes: 1 << 24,
    dedupWindowMs: 86_400_000,
    batchBytes: 1 << 20,
    pollIntervalMs: 20,
    labelCaps: DEFAULT_LABEL_CAPS,
    firstIncrementHoldMs: 0,
    apiToken: undefined,
    extensions: [],
    ...extra,
  };
}
const lines = (l: string[]) => l.map((x) => `${x}\n`).join('');

describe('spendline sidecar flags', () => {
  it('reads flags, falls back to SPENDLINE_* variables (comma-separated repeatables), and applies defaults', () => {
    const r = parseSidecarArgs(
      ['--otlp-file', 'a.json', '--otlp-file', 'b/*.json', '--dedup-window', '30m'],
      {
        SPENDLINE_USAGE_JSONL: 'x.jsonl, y.jsonl',
        SPENDLINE_LISTEN: '0.0.0.0:9999',
        SPENDLINE_LABEL_CAP: 'model=10',
      },
    );
    expect(r.ok && !r.help && r.config).toMatchObject({
      otlpGlobs: ['a.json', 'b/*.json'],
      jsonlGlobs: ['x.jsonl', 'y.jsonl'],
      listen: { host: '0.0.0.0', port: 9999 },
      stateDir: './.spendline',
      dedupWindowMs: 1_800_000,
      maxLineBytes: 16 * 1024 * 1024,
      labelCaps: { ...DEFAULT_LABEL_CAPS, model: 10 },
    });
  });

  it('refuses bad input with a reason', () => {
    const reason = (argv: string[]) => {
      const r = parseSidecarArgs(argv, {});
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason([])).toMatch(/nothing to read/);
    expect(reason(['--otlp-file', 'a', '--listen', 'nope'])).toMatch(/--listen must be host:port/);
    expect(reason(['--otlp-file', 'a', '--dedup-window', '5 days'])).toMatch(
      /--dedup-window must be a duration/,
    );
    expect(reason(['--otlp-file', 'a', '--label-cap', 'user=5'])).toMatch(/--label-cap/);
    expect(reason(['--otlp-file', 'a', '--bogus'])).toMatch(/bogus/);
    expect(sidecarHelp()).toContain('SPENDLINE_OTLP_FILE');
  });
});

describe('spendline sidecar HTTP', () => {
  it('serves /healthz, /readyz once the backlog is read, /metrics, and guards /api', async () => {
    const t = tempDir('spendline-http-');
    cleanups.push(t.cleanup);
    const g = generateUsageLines({ records: 50, perLine: 5, seed: 1 });
    writeFileSync(join(t.dir, 'genai.json'), lines(g.lines));
    const pub = join(t.dir, 'public');
    mkdirSync(pub);
    writeFileSync(join(pub, 'index.html'), '<h1>status</h1>');
    let apiCalls = 0;
    const s = await startSidecar(
      baseConfig(t.dir, 0, {
        apiToken: 'sekret',
        publicDir: pub,
        extensions: [
          {
            name: 'probe',
            start: (ctx) =>
              void ctx.api.get('/probe', (_q, res) => {
                apiCalls++;
                res.json({ ok: true });
              }),
          },
        ],
      }),
    );
    cleanups.push(() => s.stop());
    await s.ready;
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(sumSamples(text, 'llm_requests_total')['']).toBe(50);
    expect(text).toContain('# TYPE llm_request_duration_seconds histogram');
    expect(text).not.toContain('user_id');
    expect((await fetch(`${s.url}/api/probe`)).status).toBe(401);
    const ok = await fetch(`${s.url}/api/probe`, { headers: { authorization: 'Bearer sekret' } });
    expect(ok.status).toBe(200);
    expect(apiCalls).toBe(1);
    expect(await (await fetch(`${s.url}/`)).text()).toBe('<h1>status</h1>');
  });
});

describe('GET /api/pipeline (the status page pipeline panel)', () => {
  it('answers the committed figures while /metrics still holds the new series at 0', async () => {
    const t = tempDir('spendline-pipeline-');
    cleanups.push(t.cleanup);
    const g = generateUsageLines({ records: 40, perLine: 4, seed: 3 });
    // One undecodable GenAI line (cut short): a rejected record with its reason.
    writeFileSync(
      join(t.dir, 'genai.json'),
      lines([...g.lines, '{"resourceLogs": [{"gen_ai.usage.input_tokens"']),
    );
    const port = await freePort();
    // Born after start, every series is held at 0 in /metrics for an hour (longer than this test).
    const s = await startSidecar(baseConfig(t.dir, port, { firstIncrementHoldMs: 3_600_000 }));
    cleanups.push(() => s.stop());
    await s.ready;
    const text = await (await fetch(`${s.url}/metrics`)).text();
    expect(sumSamples(text, 'spendline_records_total')['']).toBe(0);
    const res = await fetch(`${s.url}/api/pipeline`);
    expect(res.status).toBe(200);
    const p = (await res.json()) as {
      ready: boolean;
      records: Record<string, number>;
      rejected_by_reason: Record<string, number>;
      unread_bytes: number;
      last_record_at: string | null;
    };
    expect(p.ready).toBe(true);
    expect(p.records).toEqual({ counted: g.truth.decodedRecords, duplicate: 0, rejected: 1, ignored: 0 });
    expect(p.rejected_by_reason).toEqual({ bad_json: 1 });
    expect(p.unread_bytes).toBe(0);
    expect(p.last_record_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect((await fetch(`${s.url}/api/pipeline?x=1`)).status).toBe(400);
  });
});

describe('spendline sidecar with a real Prometheus', () => {
  it('keeps counters monotonic across a sidecar restart: no resets, exact deltas', async () => {
    const t = tempDir('spendline-prom-');
    cleanups.push(t.cleanup);
    const a = generateUsageLines({ records: 300, perLine: 10, seed: 11 });
    const b = generateUsageLines({ records: 200, perLine: 10, seed: 12 });
    const port = await freePort();
    writeFileSync(join(t.dir, 'genai.json'), lines(a.lines));
    let s = await startSidecar(baseConfig(t.dir, port));
    cleanups.push(() => s.stop());
    await s.ready;
    const prom = await startPrometheus({
      scrapeConfigs: [
        { job_name: 'sidecar', scrape_interval: '1s', static_configs: [{ targets: [`127.0.0.1:${port}`] }] },
      ],
    });
    cleanups.push(() => prom.stop());
    const total = (want: number) => (r: { value: [number, string] }[]) => r[0]?.value[1] === String(want);
    await prom.waitFor('sum(llm_requests_total)', total(a.truth.totals.requests), 40_000);
    const beforeRestart = Date.now() / 1000;
    await s.stop();
    writeFileSync(join(t.dir, 'genai.json'), lines([...a.lines, ...b.lines]));
    s = await startSidecar(baseConfig(t.dir, port));
    await s.ready;
    const want = a.truth.totals.requests + b.truth.totals.requests;
    await prom.waitFor('sum(llm_requests_total)', total(want), 40_000);
    const resets = await prom.query('sum(resets(llm_requests_total[10m]))');
    expect(resets[0]?.value[1]).toBe('0');
    // Evaluated at the moment before the restart, the sum was A; now it is A + B, with no reset between.
    const before = await prom.query('sum(llm_requests_total)', beforeRestart);
    expect(before[0]?.value[1]).toBe(String(a.truth.totals.requests));
    const inc = await prom.query('sum(increase(llm_requests_total[10m]))');
    expect(Number(inc[0]?.value[1])).toBeGreaterThanOrEqual(b.truth.totals.requests);
  }, 150_000);
});
