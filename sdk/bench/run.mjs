// @spendline/sdk benchmark: per-call cost on the caller's thread, median µs.
//   (a) a bare OpenTelemetry span + log record emit (official SDK, batch processors, OTLP/HTTP exporters)
//   (b) recordLLMUsage (validation, usage context, pricing, span + log)
//   (c) an openai chat call, unwrapped vs instrumentOpenAI-wrapped, against an in-process fake fetch
// Runs against the built dist/ (npm run build first). Export traffic goes to a loopback sink and is
// flushed between timed batches, so background export work is not charged to the timed calls.
// Writes the figures into docs/performance.md between the sdk-bench markers.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { instrumentOpenAI, recordLLMUsage, startTelemetry, withUsageContext } from '../dist/index.js';
import { loadBenchOpenAI } from './benchOpenAI.mjs';
import { chatRequest, clientOptions, startOtlpSink, streamRequest } from './fakeOpenAI.mjs';

const BATCH = 500;
const BATCHES = Number(process.env.SDK_BENCH_BATCHES ?? 30);
const WARMUP_BATCHES = 4;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Times `fn` call by call (µs); `between` (untimed) runs after each batch. */
async function measure(fn, between, isAsync = false) {
  const samples = [];
  for (let b = 0; b < WARMUP_BATCHES + BATCHES; b++) {
    for (let i = 0; i < BATCH; i++) {
      const t0 = performance.now();
      if (isAsync) await fn(i);
      else fn(i);
      const dt = (performance.now() - t0) * 1000;
      if (b >= WARMUP_BATCHES) samples.push(dt);
    }
    await between();
  }
  return median(samples);
}

// Loopback OTLP sink: accepts and discards.
const sink = await startOtlpSink();
const sinkUrl = sink.url;
const queue = { maxQueueSize: 4 * BATCH, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 };

// (a) bare OpenTelemetry
const resource = resourceFromAttributes({ 'service.name': 'bench' });
// Spans ended per instrumentation scope: proves each peer really recorded its calls.
const spansByScope = new Map();
const countingProcessor = {
  onStart() {},
  onEnd(span) {
    const k = span.instrumentationScope.name;
    spansByScope.set(k, (spansByScope.get(k) ?? 0) + 1);
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [
    countingProcessor,
    new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sinkUrl}/v1/traces` }), queue),
  ],
});
const loggerProvider = new LoggerProvider({
  resource,
  processors: [
    new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${sinkUrl}/v1/logs` }), ...queue }),
  ],
});
const tracer = tracerProvider.getTracer('bench');
const logger = loggerProvider.getLogger('bench');
const attrs = {
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': 'gpt-4o-mini',
  'gen_ai.usage.input_tokens': 1000,
  'gen_ai.usage.output_tokens': 500,
  'gen_ai.usage.cache_read.input_tokens': 200,
  'spendline.usage.id': '00000000-0000-4000-8000-000000000000',
  'spendline.usage.type': 'exact',
  'spendline.service.type': 'llm',
  'spendline.duration.ms': 120,
  'spendline.cost.usd': 0.00042,
  'user.id': 'u-1',
  'spendline.feature': 'bench',
};
const bareEmit = () => {
  const span = tracer.startSpan('chat gpt-4o-mini', { kind: SpanKind.CLIENT, attributes: attrs });
  logger.emit({
    eventName: 'gen_ai.client.inference.operation.details',
    severityNumber: SeverityNumber.INFO,
    attributes: attrs,
  });
  span.end();
};
const bareFlush = async () => {
  await Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush()]);
};

// (b) recordLLMUsage through the SDK
const telemetry = startTelemetry({ env: { OTLP_ENDPOINT: sinkUrl }, ...queue, onWarning: () => {} });
const input = {
  provider: 'openai',
  model: 'gpt-4o-mini',
  inputTokens: 1000,
  outputTokens: 500,
  cacheReadInputTokens: 200,
  durationMs: 120,
};
const record = () => recordLLMUsage(input);
const sdkFlush = () => telemetry.forceFlush();

const a = await measure(bareEmit, bareFlush);
// The usage context is set once (as a request handler would), and read by every record.
const b = await withUsageContext({ userId: 'u-1', feature: 'bench' }, () => measure(record, sdkFlush));

// (c) openai against an in-process fetch: bare, spendline, OpenLLMetry, OpenInference, non-streaming and streaming.

const peerRequire = createRequire(fileURLToPath(new URL('../../bench/peers/package.json', import.meta.url)));
const bench = await loadBenchOpenAI();
const OpenAI = bench.OpenAI;

/**
 * The peers patch `X.prototype.create` of the module they are given; handing them a module whose
 * "prototypes" are one client's resource objects patches that client only, so all four variants
 * live in one process and can be interleaved.
 */
function instanceModule(client) {
  return {
    Chat: { Completions: { prototype: client.chat.completions } },
    Completions: { prototype: client.completions },
    Embeddings: { prototype: client.embeddings },
    Responses: { prototype: client.responses },
  };
}
const variants = { bare: new OpenAI(clientOptions), spendline: instrumentOpenAI(new OpenAI(clientOptions)) };
// A/B against another build of the SDK (e.g. main's): SDK_BENCH_BASELINE=<dir with its dist/index.js>.
// It runs its own telemetry pipeline to the same sink, interleaved with the others as one more variant.
let baselineTelemetry;
if (process.env.SDK_BENCH_BASELINE) {
  const base = await import(new URL(`file://${process.env.SDK_BENCH_BASELINE}/dist/index.js`).href);
  baselineTelemetry = base.startTelemetry({ env: { OTLP_ENDPOINT: sinkUrl }, ...queue, onWarning: () => {} });
  variants['spendline-base'] = base.instrumentOpenAI(new OpenAI(clientOptions));
}
const peers = {};
try {
  const { OpenAIInstrumentation } = peerRequire('@traceloop/instrumentation-openai');
  const inst = new OpenAIInstrumentation({ enrichTokens: false, traceContent: false });
  inst.setTracerProvider(tracerProvider);
  const client = new OpenAI(clientOptions);
  inst.manuallyInstrument(instanceModule(client));
  variants.openllmetry = client;
  peers.openllmetry = '@traceloop/instrumentation-openai';
} catch (err) {
  console.log(`OpenLLMetry not measured (npm install --prefix bench/peers): ${err.message}`);
}
try {
  const { OpenAIInstrumentation } = peerRequire('@arizeai/openinference-instrumentation-openai');
  const inst = new OpenAIInstrumentation({ traceConfig: { hideInputs: true, hideOutputs: true } });
  inst.setTracerProvider(tracerProvider);
  const client = new OpenAI(clientOptions);
  const m = instanceModule(client);
  inst.manuallyInstrument({ ...m, OpenAI: m });
  variants.openinference = client;
  peers.openinference = '@arizeai/openinference-instrumentation-openai';
} catch (err) {
  console.log(`OpenInference not measured (npm install --prefix bench/peers): ${err.message}`);
}
const peerFlush = async () => {
  await Promise.all([sdkFlush(), bareFlush(), baselineTelemetry?.forceFlush()]);
};
const calls = {
  'non-streaming': (client) => () => client.chat.completions.create(chatRequest),
  streaming: (client) => async () => {
    const stream = await client.chat.completions.create(streamRequest);
    let n = 0;
    for await (const _c of stream) n++;
    return n;
  },
};

/**
 * CPU µs of the caller's (main) thread: Linux's per-thread run time (ns) where there is one; else the
 * process's user+system time, which also counts V8's and libuv's helper threads.
 */
const SCHEDSTAT = '/proc/thread-self/schedstat';
const threadCpu = existsSync(SCHEDSTAT)
  ? () => Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1000
  : () => {
      const c = process.cpuUsage();
      return c.user + c.system;
    };
const CPU_KIND = existsSync(SCHEDSTAT) ? 'caller-thread CPU' : 'process CPU';

/** One timed batch: per-call µs samples and the caller thread's CPU µs (exports run after it, uncharged). */
async function timedBatch(fn, samples) {
  const c0 = threadCpu();
  for (let i = 0; i < BATCH; i++) {
    const t0 = performance.now();
    await fn(i);
    if (samples) samples.push((performance.now() - t0) * 1000);
  }
  const c = threadCpu() - c0;
  await peerFlush();
  return c;
}

// Rounds of batches: within a round every variant runs one batch in turn (order rotated each
// batch), so the machine's drift hits all variants alike. Added latency is each variant's median
// minus the same round's bare median; the report gives the median over rounds.
const C_ROUNDS = Number(process.env.SDK_BENCH_ROUNDS ?? 5);
const C_BATCHES = Number(process.env.SDK_BENCH_C_BATCHES ?? 10);
const names = Object.keys(variants);
const results = {};
for (const mode of Object.keys(calls)) {
  const fns = Object.fromEntries(names.map((n) => [n, calls[mode](variants[n])]));
  for (let w = 0; w < WARMUP_BATCHES; w++) for (const n of names) await timedBatch(fns[n]);
  const per = Object.fromEntries(
    names.map((n) => [n, { median: [], cpu: [], added: [], addedCpu: [], pairedAdded: [] }]),
  );
  for (let round = 0; round < C_ROUNDS; round++) {
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    const cpu = Object.fromEntries(names.map((n) => [n, 0]));
    for (let b = 0; b < C_BATCHES; b++) {
      const batchMedian = {};
      for (let k = 0; k < names.length; k++) {
        const n = names[(k + b + round) % names.length];
        const batch = [];
        cpu[n] += await timedBatch(fns[n], batch);
        batchMedian[n] = median(batch);
        samples[n].push(...batch);
      }
      // Paired within seconds of each other: less exposed to the machine's drift within a round.
      for (const n of names) per[n].pairedAdded.push(batchMedian[n] - batchMedian.bare);
    }
    const got = Object.fromEntries(
      names.map((n) => [n, { median: median(samples[n]), cpu: cpu[n] / (C_BATCHES * BATCH) }]),
    );
    for (const n of names) {
      per[n].median.push(got[n].median);
      per[n].cpu.push(got[n].cpu);
      per[n].added.push(got[n].median - got.bare.median);
      per[n].addedCpu.push(got[n].cpu - got.bare.cpu);
    }
  }
  results[mode] = Object.fromEntries(
    names.map((n) => [
      n,
      {
        median: median(per[n].median),
        cpu: median(per[n].cpu),
        added: median(per[n].added),
        addedCpu: median(per[n].addedCpu),
        rounds: per[n].added,
        paired: median(per[n].pairedAdded),
      },
    ]),
  );
}
const stats = telemetry.stats();
const baseStats = baselineTelemetry?.stats();
await telemetry.shutdown();
await baselineTelemetry?.shutdown();
await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown()]);
sink.close();

const f = (x) => x.toFixed(1);
const ratioB = b / a;
const lines = [
  `samples: (a)(b) ${BATCHES * BATCH} calls; (c) ${C_ROUNDS} interleaved rounds x ${C_BATCHES * BATCH} calls per variant; node ${process.version}, ${process.platform}/${process.arch}`,
  `(c) openai ${bench.version} (${bench.from})`,
  `(a) bare OTel span + log emit:            ${f(a)} µs`,
  `(b) recordLLMUsage:                       ${f(b)} µs   ratio b/a = ${ratioB.toFixed(2)} (target <= 2.00)`,
];
const rows = [];
const label = (n) =>
  n === 'bare'
    ? 'bare `openai` call'
    : n === 'spendline'
      ? 'spendline (`instrumentOpenAI`)'
      : n === 'spendline-base'
        ? 'spendline, baseline build (`SDK_BENCH_BASELINE`)'
        : `${n} (\`${peers[n]}\`)`;
for (const [mode, r] of Object.entries(results)) {
  const oll = r.openllmetry;
  const vs = (x, y) => (oll && y ? (x / y).toFixed(2) : '—');
  for (const n of names) {
    const x = r[n];
    const peer = n !== 'bare';
    const d = (v) => (peer ? f(v) : '—');
    const ratios = peer
      ? {
          added: vs(x.added, oll?.added),
          paired: vs(x.paired, oll?.paired),
          cpu: vs(x.addedCpu, oll?.addedCpu),
        }
      : { added: '—', paired: '—', cpu: '—' };
    lines.push(
      `(c) ${mode.padEnd(13)} ${n.padEnd(14)} ${f(x.median)} µs  added ${d(x.added)} µs (÷ OpenLLMetry ${ratios.added})  paired ${d(x.paired)} µs (÷ ${ratios.paired})  ${CPU_KIND} ${f(x.cpu)} µs/call, added ${d(x.addedCpu)} (÷ ${ratios.cpu})  rounds ${x.rounds.map(f).join(', ')}`,
    );
    rows.push(
      `| ${mode} | ${label(n)} | ${f(x.median)} | ${d(x.added)} | ${d(x.paired)} | ${ratios.added} / ${ratios.paired} | ${f(x.cpu)} | ${d(x.addedCpu)} | ${ratios.cpu} |`,
    );
  }
}
lines.push(`spans ended per scope (peers): ${JSON.stringify(Object.fromEntries(spansByScope))}`);
lines.push(
  `records emitted ${stats.recordsEmitted}, exported logs ${stats.logsExported}, dropped ${stats.logsDropped}, failed ${stats.logsFailed}`,
);
if (baseStats) {
  lines.push(
    `baseline (${process.env.SDK_BENCH_BASELINE}): records emitted ${baseStats.recordsEmitted}, exported logs ${baseStats.logsExported}`,
  );
}
for (const l of lines) console.log(l);

const docPath = fileURLToPath(new URL('../../docs/performance.md', import.meta.url));
const START = '<!-- sdk-bench:start -->';
const END = '<!-- sdk-bench:end -->';
const section = [
  START,
  '## SDK: per-call cost on the caller’s thread',
  '',
  `Measured by \`npm run bench -w sdk\` (${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${process.platform}/${process.arch}, shared 2-core machine). Exports go to a loopback sink and are flushed between timed batches, so background export work is not charged to the timed calls.`,
  '',
  `(a) and (b): median of ${BATCHES * BATCH} calls each.`,
  '',
  '| measure | median µs/call | ratio | target |',
  '| --- | ---: | ---: | --- |',
  `| (a) bare OpenTelemetry span + log record emit | ${f(a)} | 1.00 | baseline |`,
  `| (b) \`recordLLMUsage\` (validation, context, pricing, span + log) | ${f(b)} | ${ratioB.toFixed(2)} × (a) | ≤ 2 × (a): ${ratioB <= 2 ? 'met' : 'NOT met'} |`,
  '',
  `(c) the same mocked \`openai\` ${bench.version} \`chat.completions.create\` (in-process \`fetch\`; usage with cached and reasoning tokens), bare and through each instrumentation, ${C_ROUNDS} interleaved rounds of ${C_BATCHES * BATCH} calls per variant (each round: one batch of 500 calls per variant in turn, order rotated every batch). "Added" is the variant's median minus the same round's bare median, then the median over rounds; "paired" is the variant's batch median minus the bare batch median run next to it, then the median over all batches (less exposed to the machine's drift within a round). CPU is the ${CPU_KIND === 'caller-thread CPU' ? 'caller (main) thread’s run time (`/proc/thread-self/schedstat`)' : 'process’s user+system time'} per call during the timed batches. spendline emits a span and a log record per call with cost; OpenLLMetry and OpenInference emit one span (content capture off for all three).`,
  '',
  '| mode | variant | median µs/call | added µs | added µs, paired | added ÷ OpenLLMetry’s (rounds / paired) | CPU µs/call | added CPU µs | added CPU ÷ OpenLLMetry’s |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...rows,
  '',
  END,
].join('\n');
let doc;
try {
  doc = await readFile(docPath, 'utf8');
} catch {
  doc = '# Performance\n';
}
const s = doc.indexOf(START);
const e = doc.indexOf(END);
doc =
  s >= 0 && e > s
    ? doc.slice(0, s) + section + doc.slice(e + END.length)
    : `${doc.trimEnd()}\n\n${section}\n`;
await writeFile(docPath, doc);
console.log(`wrote ${docPath}`);
