// Profiling helper (not part of `npm run bench`): N mocked `openai` chat calls through
// instrumentOpenAI, in one mode, for a CPU profile of the caller's thread:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.mjs
//   PROFILE_MODE=streaming PROFILE_CALLS=20000 node --cpu-prof bench/profile.mjs
// PROFILE_BARE=1 runs the unwrapped client (the baseline to subtract). Needs the built dist/.
// The same mocked call as bench/run.mjs; exports go to a loopback sink, flushed every 500 calls.
import OpenAI from 'openai';
import { instrumentOpenAI, startTelemetry, withUsageContext } from '../dist/index.js';
import { chatRequest, clientOptions, startOtlpSink, streamRequest } from './fakeOpenAI.mjs';

const CALLS = Number(process.env.PROFILE_CALLS ?? 20_000);
const streaming = process.env.PROFILE_MODE === 'streaming';
const bare = process.env.PROFILE_BARE === '1';

const sink = await startOtlpSink();
const telemetry = startTelemetry({
  env: { OTLP_ENDPOINT: sink.url },
  maxQueueSize: 2000,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 60_000,
  onWarning: () => {},
});

const client = new OpenAI(clientOptions);
if (!bare) instrumentOpenAI(client);

const req = streaming ? streamRequest : chatRequest;
await withUsageContext({ userId: 'u-1', feature: 'bench' }, async () => {
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const res = await client.chat.completions.create(req);
    if (streaming) for await (const _c of res);
    if (i % 500 === 499) await telemetry.forceFlush();
  }
  const perCall = ((performance.now() - t0) * 1000) / CALLS;
  console.log(
    `${streaming ? 'streaming' : 'non-streaming'} ${bare ? 'bare' : 'instrumented'}: ${perCall.toFixed(1)} µs/call (flushes included)`,
  );
});
console.log(`records emitted: ${telemetry.stats().recordsEmitted}`);
await telemetry.shutdown();
sink.close();
