// Profiling helper (not part of `npm run bench`): N mocked `openai` chat calls through
// instrumentOpenAI, in one mode, for a CPU profile of the caller's thread:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile.mjs
//   PROFILE_MODE=streaming PROFILE_CALLS=20000 node --cpu-prof bench/profile.mjs
// PROFILE_BARE=1 runs the unwrapped client (the baseline to subtract). Needs the built dist/.
// The same fake response as bench/run.mjs; exports go to a loopback sink, flushed every 500 calls.
import { createServer } from 'node:http';
import OpenAI from 'openai';
import { instrumentOpenAI, startTelemetry, withUsageContext } from '../dist/index.js';

const CALLS = Number(process.env.PROFILE_CALLS ?? 20_000);
const streaming = process.env.PROFILE_MODE === 'streaming';
const bare = process.env.PROFILE_BARE === '1';

const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const telemetry = startTelemetry({
  env: { OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}` },
  maxQueueSize: 2000,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 60_000,
  onWarning: () => {},
});

const usage = {
  prompt_tokens: 1000,
  completion_tokens: 500,
  total_tokens: 1500,
  prompt_tokens_details: { cached_tokens: 200 },
  completion_tokens_details: { reasoning_tokens: 100 },
};
const base = { id: 'chatcmpl-bench', created: 1_700_000_000, model: 'gpt-4o-mini-2024-07-18' };
const completion = JSON.stringify({
  ...base,
  object: 'chat.completion',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'ok', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage,
});
const chunk = (delta, finish, extra = {}) =>
  `data: ${JSON.stringify({
    ...base,
    object: 'chat.completion.chunk',
    choices: delta ? [{ index: 0, delta, logprobs: null, finish_reason: finish }] : [],
    ...extra,
  })}\n\n`;
const sse = new TextEncoder().encode(
  [
    chunk({ role: 'assistant', content: '' }, null),
    ...['Hello', ' from', ' the', ' bench', '.'].map((c) => chunk({ content: c }, null)),
    chunk({}, 'stop'),
    chunk(null, null, { usage }),
    'data: [DONE]\n\n',
  ].join(''),
);
const fakeFetch = async (_url, init) =>
  init.body.includes('"stream":true')
    ? new Response(sse, { status: 200, headers: { 'content-type': 'text/event-stream' } })
    : new Response(completion, { status: 200, headers: { 'content-type': 'application/json' } });
const client = new OpenAI({
  apiKey: 'sk-bench',
  baseURL: 'http://fake.invalid/v1',
  fetch: fakeFetch,
  maxRetries: 0,
});
if (!bare) instrumentOpenAI(client);

const req = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hi' }],
  ...(streaming ? { stream: true } : {}),
};
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
