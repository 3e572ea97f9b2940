// A/B of SDK builds (not part of `npm run bench`): this build, other builds, OpenLLMetry and the bare
// client in one process, in small batches (200 calls) with the order rotated every repetition. Per
// repetition each variant's batch median minus the bare batch median next to it, and its caller
// (main) thread's CPU per call minus bare's; printed: the medians over repetitions. Finer than
// run.mjs's rounds for telling two builds apart on a busy machine.
//   AB_VARIANTS="this=../dist,main=/abs/path/to/a/main/build/dist" node bench/ab.mjs
// (each build directory needs a package.json with "type": "module" next to its dist/).
// Only the first build runs its own pipeline; the others join it as guests of its setup, so spans
// they make go through its tracer. AB_DIRECT_TOGGLE=1 adds "<first>-tracer": the first build's client
// with its spans made by the tracer instead of directly (sdk/src/telemetry/directSpans.ts), switched
// between batches in the same process.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { loadBenchOpenAI } from './benchOpenAI.mjs';
import { chatRequest, clientOptions, startOtlpSink, streamRequest } from './fakeOpenAI.mjs';

const BATCH = Number(process.env.AB_BATCH ?? 200);
const REPS = Number(process.env.AB_REPS ?? 120);
const WARMUP = 5;
const SCHEDSTAT = '/proc/thread-self/schedstat';
if (!existsSync(SCHEDSTAT)) throw new Error(`ab.mjs needs Linux's ${SCHEDSTAT} for the caller thread's CPU`);
const threadCpuUs = () => Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1000;

const sink = await startOtlpSink();
const sinkUrl = sink.url;
const queue = { maxQueueSize: 2000, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 };

const { OpenAI, version, from } = await loadBenchOpenAI();
console.log(`openai ${version} (${from})`);
const clients = { bare: new OpenAI(clientOptions) };
/** Run before a variant's batch: the direct-span switch (AB_DIRECT_TOGGLE). */
const before = {};
const flushes = [];
for (const spec of (process.env.AB_VARIANTS ?? 'this=../dist').split(',')) {
  const [name, dir] = spec.split('=');
  const href = dir.startsWith('/')
    ? pathToFileURL(`${dir}/index.js`).href
    : new URL(`${dir}/index.js`, import.meta.url).href;
  const sdk = await import(href);
  const telemetry = sdk.startTelemetry({ env: { OTLP_ENDPOINT: sinkUrl }, ...queue, onWarning: () => {} });
  flushes.push(() => telemetry.forceFlush());
  clients[name] = sdk.instrumentOpenAI(new OpenAI(clientOptions));
  if (process.env.AB_DIRECT_TOGGLE === '1' && Object.keys(before).length === 0) {
    const { activeRuntime } = await import(href.replace(/index\.js$/, 'telemetry/runtime.js'));
    const rt = activeRuntime();
    const direct = rt.directSpans;
    if (direct === undefined) throw new Error(`AB_DIRECT_TOGGLE: the build ${name} makes no spans directly`);
    clients[`${name}-tracer`] = clients[name];
    before[name] = () => {
      rt.directSpans = direct;
    };
    before[`${name}-tracer`] = () => {
      rt.directSpans = undefined;
    };
  }
}
// OpenLLMetry on one client only (see run.mjs), exporting its spans to the same sink.
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sinkUrl}/v1/traces` }), queue)],
});
flushes.push(() => tracerProvider.forceFlush());
const peerRequire = createRequire(fileURLToPath(new URL('../../bench/peers/package.json', import.meta.url)));
const { OpenAIInstrumentation } = peerRequire('@traceloop/instrumentation-openai');
const openllmetry = new OpenAIInstrumentation({ enrichTokens: false, traceContent: false });
openllmetry.setTracerProvider(tracerProvider);
clients.openllmetry = new OpenAI(clientOptions);
openllmetry.manuallyInstrument({
  Chat: { Completions: { prototype: clients.openllmetry.chat.completions } },
  Completions: { prototype: clients.openllmetry.completions },
  Embeddings: { prototype: clients.openllmetry.embeddings },
  Responses: { prototype: clients.openllmetry.responses },
});

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f = (x) => x.toFixed(1);
const names = Object.keys(clients);
const calls = {
  'non-streaming': (client) => client.chat.completions.create(chatRequest),
  streaming: async (client) => {
    for await (const _c of await client.chat.completions.create(streamRequest));
  },
};
for (const [mode, call] of Object.entries(calls)) {
  const added = Object.fromEntries(names.map((n) => [n, []]));
  const addedCpu = Object.fromEntries(names.map((n) => [n, []]));
  for (let rep = 0; rep < WARMUP + REPS; rep++) {
    const latency = {};
    const cpu = {};
    for (let k = 0; k < names.length; k++) {
      const n = names[(k + rep) % names.length];
      before[n]?.();
      const samples = [];
      const c0 = threadCpuUs();
      for (let i = 0; i < BATCH; i++) {
        const t0 = performance.now();
        await call(clients[n]);
        samples.push((performance.now() - t0) * 1000);
      }
      cpu[n] = (threadCpuUs() - c0) / BATCH;
      latency[n] = median(samples);
      await Promise.all(flushes.map((flush) => flush()));
    }
    if (rep < WARMUP) continue;
    for (const n of names) {
      added[n].push(latency[n] - latency.bare);
      addedCpu[n].push(cpu[n] - cpu.bare);
    }
  }
  const oll = { added: median(added.openllmetry), cpu: median(addedCpu.openllmetry) };
  console.log(`${mode}: ${REPS} repetitions x ${BATCH} calls per variant, node ${process.version}`);
  for (const n of names.slice(1)) {
    const a = median(added[n]);
    const c = median(addedCpu[n]);
    console.log(
      `  ${n.padEnd(12)} added ${f(a)} µs (÷ OpenLLMetry ${(a / oll.added).toFixed(2)})  added caller-thread CPU ${f(c)} µs/call (÷ ${(c / oll.cpu).toFixed(2)})`,
    );
  }
}
sink.close();
await Promise.all([tracerProvider.shutdown()]);
process.exit(0);
