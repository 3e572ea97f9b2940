import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR, CONTENT_ATTRS, USAGE_EVENT_NAME } from '@spendline/sdk/contract';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../src/decode/index.js';
import { type RunningReceiver, startOtlpReceiver } from '../src/receiver/index.js';
import { stripContent } from '../src/receiver/stripContent.js';
import { EMITTER_FIXTURE_DIR } from './support/emitterTruth.js';

// `spendline up`'s receiver stands in for the collector, whose transform/strip_content deletes prompt
// and completion content before any exporter: the receiver must not write it to the export file either.
const SECRET = 'SECRET PROMPT TEXT';
/** One attribute per CONTENT_ATTRS entry (a prefix entry gets a name under it), each holding SECRET. */
const contentAttributes = Object.fromEntries(
  CONTENT_ATTRS.map((n) => [n.endsWith('*') ? `${n.slice(0, -1)}.0.content` : n, SECRET]),
);
const usage = {
  [ATTR.operationName]: 'chat',
  [ATTR.providerName]: 'openai',
  [ATTR.requestModel]: 'gpt-4o-mini',
  [ATTR.inputTokens]: 120,
  [ATTR.outputTokens]: 30,
};

let dir: string;
let receiver: RunningReceiver | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'spendline-receiver-content-'));
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Sends a GenAI log event (content in attributes and body), an ordinary log and a span with an event. */
async function send(url: string): Promise<void> {
  const resource = resourceFromAttributes({ 'service.name': 'chat-api' });
  const logs = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${url}/v1/logs` }) })],
  });
  const traces = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${url}/v1/traces` }))],
  });
  const logger = logs.getLogger('t');
  logger.emit({
    eventName: USAGE_EVENT_NAME,
    body: SECRET,
    attributes: { ...usage, ...contentAttributes, [ATTR.usageId]: 'u-log' },
  });
  // An older semconv event: content in the body, GenAI only by its event.name attribute.
  logger.emit({ body: { content: SECRET }, attributes: { 'event.name': 'gen_ai.user.message' } });
  // Not GenAI telemetry: its body is the service's own and is kept.
  logger.emit({ body: 'cache warmed', attributes: { 'app.step': 'warmup' } });
  const span = traces.getTracer('t').startSpan('chat gpt-4o-mini', {
    attributes: { ...usage, ...contentAttributes, [ATTR.usageId]: 'u-span' },
  });
  span.addEvent('gen_ai.choice', { ...contentAttributes, 'gen_ai.response.finish_reasons': ['stop'] });
  span.end();
  await logs.forceFlush();
  await traces.forceFlush();
  await logs.shutdown();
  await traces.shutdown();
}

const exportFile = () => join(dir, 'export.jsonl');
const written = () => readFileSync(exportFile(), 'utf8');

describe('receiver content deletion (as the collector config)', () => {
  it('writes no prompt or completion content from log records, spans or span events, and counts the same', async () => {
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: exportFile() });
    await send(receiver.url);
    const text = written();
    expect(text).not.toContain(SECRET);
    const lines = text.split('\n').filter((l) => l !== '');
    // One request per log record (the simple processor) and one for the span.
    expect(lines).toHaveLength(4);
    // What is counted is untouched: both records, exact tokens.
    const records = lines.flatMap((l) => decodeOtlpJsonLine(l).records);
    expect(
      records.map((r) => [r.source, r.dedupKey, r.tokens.inputTokens, r.tokens.outputTokens]).sort(),
    ).toEqual([
      ['log', 'u-log', 120, 30],
      ['span', 'u-span', 120, 30],
    ]);
    const logRecords = lines
      .filter((l) => l.includes('resourceLogs'))
      .map((l) => JSON.parse(l).resourceLogs[0].scopeLogs[0].logRecords[0]);
    expect(logRecords.map((r: { body?: unknown }) => r.body)).toEqual([
      { stringValue: '' },
      { stringValue: '' },
      { stringValue: 'cache warmed' },
    ]);
    const keys = (attrs: { key: string }[]) => attrs.map((a) => a.key).sort();
    expect(keys(logRecords[0].attributes)).toEqual(
      keys(Object.keys({ ...usage, [ATTR.usageId]: 1 }).map((key) => ({ key }))),
    );
    const spanLine = JSON.parse(lines.find((l) => l.includes('resourceSpans')) ?? '{}');
    const span = spanLine.resourceSpans[0].scopeSpans[0].spans[0];
    expect(keys(span.attributes)).toEqual(
      keys(Object.keys({ ...usage, [ATTR.usageId]: 1 }).map((key) => ({ key }))),
    );
    expect(keys(span.events[0].attributes)).toEqual(['gen_ai.response.finish_reasons']);
  });

  it('keeps the content when the operator turns capture on (keepContent, `up --keep-content`)', async () => {
    receiver = await startOtlpReceiver({
      host: '127.0.0.1',
      port: 0,
      filePath: exportFile(),
      keepContent: true,
    });
    await send(receiver.url);
    const text = written();
    // Every content attribute of the log record, the span and its event, plus the two GenAI bodies.
    const occurrences = text.split(SECRET).length - 1;
    expect(occurrences).toBe(3 * CONTENT_ATTRS.length + 2);
  });

  it('changes nothing the sidecar counts, for every emitter fixture (captured from the real packages)', () => {
    const fixtures = EMITTER_FIXTURE_DIR;
    const files = readdirSync(fixtures).filter((n) => n.endsWith('.otlp.jsonl'));
    expect(files.length).toBeGreaterThan(10);
    let lines = 0;
    let records = 0;
    let stripped = 0;
    for (const name of files) {
      for (const line of readFileSync(join(fixtures, name), 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const message = JSON.parse(line);
        const signal = message.resourceLogs !== undefined ? 'logs' : 'traces';
        stripContent(signal, message);
        const after = JSON.stringify(message);
        if (after.length < line.length) stripped++;
        expect(decodeOtlpJsonLine(after), name).toEqual(decodeOtlpJsonLine(line));
        lines++;
        records += decodeOtlpJsonLine(line).records.length;
      }
    }
    expect(lines).toBeGreaterThan(10);
    expect(records).toBeGreaterThan(10);
    // The fixtures are captured with content capture on where the package has it: some content went.
    expect(stripped).toBeGreaterThan(0);
  });
});
