// Run by youngPerCallObjects.test.ts as `node --allow-natives-syntax youngObjectsChild.mjs <sdk dist dir>`:
// instrumented `openai` calls against the SDK's loopback fake provider, exported to a loopback sink that
// discards, flushed every 500 calls (as a batch processor would export them). Every object the SDK
// queues for export (the call's span and log record, their shared attributes, the span's context) is
// checked when queued: allocated in V8's young generation, or in the old one (pretenured). Prints
// `{ young, old }` per kind as JSON.
import { createServer } from 'node:http';
import OpenAI from 'openai';

const dist = process.argv[2];
const { instrumentOpenAI, startTelemetry } = await import(`${dist}/index.js`);
const { BoundedBatchQueue } = await import(`${dist}/telemetry/boundedBatchQueue.js`);
const { startFakeProvider } = await import(`${dist}/testing/index.js`);

// V8's own check, behind --allow-natives-syntax (a Function, so no linter parses the `%` call).
const inYoungGeneration = new Function('o', 'return %InYoungGeneration(o)');
const WARMUP_CALLS = 1_500;
const COUNTED_CALLS = 3_000;

const counts = {};
let counting = false;
const note = (kind, o) => {
  if (!counting) return;
  counts[kind] ??= { young: 0, old: 0 };
  const c = counts[kind];
  if (inYoungGeneration(o)) c.young++;
  else c.old++;
};
const add = BoundedBatchQueue.prototype.add;
BoundedBatchQueue.prototype.add = function (item) {
  if (typeof item.spanContext === 'function') {
    note('span', item);
    note('span attributes', item.attributes);
    note('span context', item.spanContext());
  } else {
    note('log record', item);
    note('log record attributes', item.attributes);
  }
  return add.call(this, item);
};

const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const provider = await startFakeProvider();
const telemetry = startTelemetry({
  env: { OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}` },
  maxQueueSize: 2_000,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 60_000,
  onWarning: () => {},
});
const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: provider.openaiBaseURL, maxRetries: 0 }));
for (let i = 0; i < WARMUP_CALLS + COUNTED_CALLS; i++) {
  counting = i >= WARMUP_CALLS;
  await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  if (i % 500 === 499) await telemetry.forceFlush();
}
await telemetry.shutdown();
await provider.close();
sink.close();
console.log(JSON.stringify(counts));
