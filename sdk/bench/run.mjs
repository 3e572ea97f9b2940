// @spendline/sdk benchmark: per-call cost on the caller's thread, median µs.
//   (a) a bare OpenTelemetry span + log record emit (official SDK, batch processors, OTLP/HTTP exporters)
//   (b) recordLLMUsage (validation, usage context, pricing, span + log)
//   (c) an openai chat call, unwrapped vs instrumentOpenAI-wrapped, against an in-process fake fetch
// Runs against the built dist/ (npm run build first). Export traffic goes to a loopback sink and is
// flushed between timed batches, so background export work is not charged to the timed calls.
// Writes the figures into docs/performance.md between the sdk-bench markers.
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { instrumentOpenAI, recordLLMUsage, startTelemetry, withUsageContext } from '../dist/index.js';

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
const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const sinkUrl = `http://127.0.0.1:${sink.address().port}`;
const queue = { maxQueueSize: 4 * BATCH, maxExportBatchSize: 512, scheduledDelayMillis: 60_000 };

// (a) bare OpenTelemetry
const resource = resourceFromAttributes({ 'service.name': 'bench' });
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sinkUrl}/v1/traces` }), queue)],
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

// (c) openai against an in-process fetch
const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'ok', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: {
    prompt_tokens: 1000,
    completion_tokens: 500,
    total_tokens: 1500,
    prompt_tokens_details: { cached_tokens: 200 },
  },
});
const fakeFetch = async () =>
  new Response(completion, { status: 200, headers: { 'content-type': 'application/json' } });
const clientOptions = {
  apiKey: 'sk-bench',
  baseURL: 'http://fake.invalid/v1',
  fetch: fakeFetch,
  maxRetries: 0,
};
const plain = new OpenAI(clientOptions);
const wrapped = instrumentOpenAI(new OpenAI(clientOptions));
const req = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
const sdkFlush = () => telemetry.forceFlush();

const a = await measure(bareEmit, bareFlush);
// The usage context is set once (as a request handler would), and read by every record.
const b = await withUsageContext({ userId: 'u-1', feature: 'bench' }, () => measure(record, sdkFlush));
// Interleave unwrapped/wrapped rounds so drift (GC, JIT, other processes) hits both alike.
const plainRounds = [];
const wrappedRounds = [];
for (let round = 0; round < 3; round++) {
  plainRounds.push(await measure(() => plain.chat.completions.create(req), sdkFlush, true));
  wrappedRounds.push(await measure(() => wrapped.chat.completions.create(req), sdkFlush, true));
}
const cPlain = median(plainRounds);
const cWrapped = median(wrappedRounds);
const stats = telemetry.stats();
await telemetry.shutdown();
await Promise.all([tracerProvider.shutdown(), loggerProvider.shutdown()]);
sink.close();

const f = (x) => x.toFixed(1);
const ratioB = b / a;
const added = cWrapped - cPlain;
const lines = [
  `samples per figure: ${BATCHES * BATCH} calls (median), node ${process.version}, ${process.platform}/${process.arch}`,
  `(a) bare OTel span + log emit:            ${f(a)} µs`,
  `(b) recordLLMUsage:                       ${f(b)} µs   ratio b/a = ${ratioB.toFixed(2)} (target <= 2.00)`,
  `(c) openai chat, unwrapped:               ${f(cPlain)} µs`,
  `(c) openai chat, instrumentOpenAI:        ${f(cWrapped)} µs   added = ${f(added)} µs (target <= 25.0), ratio = ${(cWrapped / cPlain).toFixed(2)}`,
  `records emitted ${stats.recordsEmitted}, exported logs ${stats.logsExported}, dropped ${stats.logsDropped}, failed ${stats.logsFailed}`,
];
for (const l of lines) console.log(l);

const docPath = fileURLToPath(new URL('../../docs/performance.md', import.meta.url));
const START = '<!-- sdk-bench:start -->';
const END = '<!-- sdk-bench:end -->';
const section = [
  START,
  '## SDK: per-call cost on the caller’s thread',
  '',
  `Measured by \`npm run bench -w sdk\` (median of ${BATCHES * BATCH} calls each, exports flushed to a loopback sink between timed batches; ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${process.platform}/${process.arch}, shared 2-core machine).`,
  '',
  '| measure | median µs/call | ratio | target |',
  '| --- | ---: | ---: | --- |',
  `| (a) bare OpenTelemetry span + log record emit | ${f(a)} | 1.00 | baseline |`,
  `| (b) \`recordLLMUsage\` (validation, context, pricing, span + log) | ${f(b)} | ${ratioB.toFixed(2)} × (a) | ≤ 2 × (a): ${ratioB <= 2 ? 'met' : 'NOT met'} |`,
  `| (c) openai \`chat.completions.create\`, unwrapped (in-process fake \`fetch\`) | ${f(cPlain)} | 1.00 | baseline |`,
  `| (c) same call through \`instrumentOpenAI\` | ${f(cWrapped)} | ${(cWrapped / cPlain).toFixed(2)} × | adds ≤ 25 µs: added ${f(added)} µs, ${added <= 25 ? 'met' : 'NOT met'} |`,
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
