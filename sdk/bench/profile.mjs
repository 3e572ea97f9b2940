// Profiling helper (not part of `npm run bench`): N mocked `openai` chat calls in one process, for a
// CPU profile of the caller's thread, through one variant:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.mjs
//   PROFILE_VARIANT=openllmetry node --cpu-prof --cpu-prof-dir=/tmp/prof-oll bench/profile.mjs
//   PROFILE_MODE=streaming PROFILE_CALLS=20000 node --cpu-prof bench/profile.mjs
// PROFILE_VARIANT: spendline (default: instrumentOpenAI, its own telemetry), openllmetry (the peer,
// on a BatchSpanProcessor as in run.mjs) or bare (the unwrapped client: the baseline to subtract).
// PROFILE_BARE=1 is PROFILE_VARIANT=bare. Every variant runs the `openai` the benchmarks use (the
// peers' pinned version, bench/peers) with the same context manager, so profiles compare function by
// function. Needs the built dist/ (and bench/peers installed for openllmetry).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { instrumentOpenAI, startTelemetry, withUsageContext } from '../dist/index.js';
import { loadBenchOpenAI } from './benchOpenAI.mjs';
import { chatRequest, clientOptions, startOtlpSink, streamRequest } from './fakeOpenAI.mjs';

const CALLS = Number(process.env.PROFILE_CALLS ?? 20_000);
const streaming = process.env.PROFILE_MODE === 'streaming';
const variant = process.env.PROFILE_BARE === '1' ? 'bare' : (process.env.PROFILE_VARIANT ?? 'spendline');
if (!['spendline', 'openllmetry', 'bare'].includes(variant))
  throw new Error(`PROFILE_VARIANT must be spendline, openllmetry or bare (got ${variant})`);

const sink = await startOtlpSink();
const queue = { maxQueueSize: 2000, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 };
const { OpenAI, version } = await loadBenchOpenAI();
const client = new OpenAI(clientOptions);
let flush;
if (variant === 'spendline') {
  const telemetry = startTelemetry({ env: { OTLP_ENDPOINT: sink.url }, ...queue, onWarning: () => {} });
  instrumentOpenAI(client);
  flush = () => telemetry.forceFlush();
} else {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sink.url}/v1/traces` }), queue)],
  });
  flush = () => tracerProvider.forceFlush();
  if (variant === 'openllmetry') {
    const peerRequire = createRequire(
      fileURLToPath(new URL('../../bench/peers/package.json', import.meta.url)),
    );
    const { OpenAIInstrumentation } = peerRequire('@traceloop/instrumentation-openai');
    const inst = new OpenAIInstrumentation({ enrichTokens: false, traceContent: false });
    inst.setTracerProvider(tracerProvider);
    // The peer patches `X.prototype.create` of the module it is given: this client's resources.
    inst.manuallyInstrument({
      Chat: { Completions: { prototype: client.chat.completions } },
      Completions: { prototype: client.completions },
      Embeddings: { prototype: client.embeddings },
      Responses: { prototype: client.responses },
    });
  }
}

const req = streaming ? streamRequest : chatRequest;
await withUsageContext({ userId: 'u-1', feature: 'bench' }, async () => {
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const res = await client.chat.completions.create(req);
    if (streaming) for await (const _c of res);
    if (i % 500 === 499) await flush();
  }
  const perCall = ((performance.now() - t0) * 1000) / CALLS;
  console.log(
    `openai ${version}, ${streaming ? 'streaming' : 'non-streaming'} ${variant}: ${perCall.toFixed(1)} µs/call (flushes included)`,
  );
});
sink.close();
process.exit(0);
