/**
 * The collector configs (validated, not run: no collector binary here): every pipeline's components
 * are defined, GenAI-only pipelines feed the rotated JSON file export, content is deleted before
 * every exporter, the file export never shares an exporter with OpenSearch or Jaeger, the backends
 * collector fixes timestamps for OpenSearch, and both gateway configs (the example and the compose
 * `scale` profile's) route by trace ID and retry on the load balancer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALIAS_ATTR, ATTR, CONTENT_ATTRS } from '@spendline/sdk/contract';
import { describe, expect, it } from 'vitest';
import { decodeOtlpJsonLine } from '../../sidecar/src/decode/index.js';
import { isRecord, readRepoYaml, recordAt, stringsAt } from './support/repoFiles.js';

const config = readRepoYaml('collector-config/otelcol.yaml');
const pipelines = recordAt(config, 'service', 'pipelines');
const backends = readRepoYaml('collector-config/otelcol-backends.yaml');
const gateway = readRepoYaml('collector-config/otelcol-gateway-example.yaml');
const composeGateway = readRepoYaml('collector-config/otelcol-gateway.yaml');
const EMITTER_FIXTURES = join(import.meta.dirname, '..', '..', 'sidecar', 'test', 'fixtures', 'emitters');

/** Every pipeline's receivers, processors and exporters (and the extensions) are defined. */
function expectComponentsDefined(doc: unknown): void {
  for (const [name, pipeline] of Object.entries(recordAt(doc, 'service', 'pipelines'))) {
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      const defined = recordAt(doc, kind);
      for (const component of stringsAt(pipeline, kind)) {
        expect(Object.keys(defined), `${name} ${kind}`).toContain(component);
      }
    }
  }
  const extensions = recordAt(doc, 'service').extensions;
  for (const extension of Array.isArray(extensions) ? extensions.map(String) : []) {
    expect(Object.keys(recordAt(doc, 'extensions'))).toContain(extension);
  }
}

/** The OTTL statements of one context of a transform processor. */
function transformStatements(doc: unknown, processor: string, kind: string, context: string): string[] {
  const groups = recordAt(doc, 'processors', processor)[kind];
  if (!Array.isArray(groups)) throw new Error(`${processor} has no ${kind}`);
  const group = groups.filter(isRecord).find((g) => g.context === context);
  if (!group || !Array.isArray(group.statements)) throw new Error(`no ${context} statements`);
  return group.statements.map(String);
}

/**
 * `delete_key(attributes, "x")` for exact names, `delete_matching_keys(attributes, "^x.*")` for `x*`.
 * The regex dot is escaped inside an OTTL string literal, so the OTTL source holds `\\.`.
 */
function deletionFor(attr: string): string {
  if (attr.endsWith('*')) {
    const prefix = attr.slice(0, -1).replaceAll('.', '\\\\.');
    return `delete_matching_keys(attributes, "^${prefix}.*")`;
  }
  return `delete_key(attributes, "${attr}")`;
}

function statementsFor(kind: 'log_statements' | 'trace_statements', context: string): string[] {
  return transformStatements(config, 'transform/strip_content', kind, context);
}

describe('collector-config/otelcol.yaml', () => {
  it('defines every receiver, processor, exporter and extension that a pipeline uses', () => {
    expect(Object.keys(pipelines).sort()).toEqual(['logs', 'logs/genai', 'traces', 'traces/genai']);
    expectComponentsDefined(config);
    expectComponentsDefined(backends);
    expectComponentsDefined(gateway);
    expectComponentsDefined(composeGateway);
    expect(stringsAt(config, 'service', 'extensions')).toEqual(['health_check']);
    expect(stringsAt(backends, 'service', 'extensions')).toEqual(['health_check']);
    expect(stringsAt(composeGateway, 'service', 'extensions')).toEqual(['health_check']);
  });

  it('receives OTLP on gRPC 4317 and HTTP 4318 and exposes its own metrics on 8888', () => {
    const protocols = recordAt(config, 'receivers', 'otlp', 'protocols');
    expect(recordAt(protocols, 'grpc').endpoint).toBe('0.0.0.0:4317');
    expect(recordAt(protocols, 'http').endpoint).toBe('0.0.0.0:4318');
    const readers = recordAt(config, 'service', 'telemetry', 'metrics').readers;
    expect(readers).toEqual([{ pull: { exporter: { prometheus: { host: '0.0.0.0', port: 8888 } } } }]);
  });

  it('forwards everything to the backends collector, and only GenAI records to the file', () => {
    expect(stringsAt(pipelines, 'logs', 'exporters')).toEqual(['otlp/backends']);
    expect(stringsAt(pipelines, 'traces', 'exporters')).toEqual(['otlp/backends']);
    expect(stringsAt(pipelines, 'logs/genai', 'exporters')).toEqual(['file/genai_logs']);
    expect(stringsAt(pipelines, 'traces/genai', 'exporters')).toEqual(['file/genai_traces']);
    for (const name of ['logs/genai', 'traces/genai']) {
      expect(stringsAt(pipelines, name, 'processors')).toEqual([
        'memory_limiter',
        'filter/genai_only',
        'transform/strip_content',
        'batch',
      ]);
    }
    for (const name of ['logs', 'traces']) {
      expect(stringsAt(pipelines, name, 'processors')).toEqual([
        'memory_limiter',
        'transform/strip_content',
        'batch',
      ]);
    }
  });

  it('drops records that carry none of the GenAI marker attributes', () => {
    const filter = recordAt(config, 'processors', 'filter/genai_only');
    const expected = [
      ATTR.operationName,
      ATTR.usageId,
      ALIAS_ATTR.openInferenceSpanKind,
      ALIAS_ATTR.vercelOperationId,
      ALIAS_ATTR.llmRequestType,
    ]
      .map((a) => `attributes["${a}"] == nil`)
      .join(' and ');
    expect(stringsAt(filter, 'logs', 'log_record')).toEqual([expected]);
    // OpenLLMetry <= 0.54's Responses API span carries no marker: kept by its name and scope, as the decoder does.
    expect(stringsAt(filter, 'traces', 'span')).toEqual([
      `${expected} and not (name == "openai.response" and IsMatch(instrumentation_scope.name, "^opentelemetry\\\\.instrumentation\\\\.openai\\\\.")) and not (IsMatch(name, "^BedrockRuntime\\\\.InvokeModel") and instrumentation_scope.name == "@opentelemetry/instrumentation-aws-sdk")`,
    ]);
    expect(filter.error_mode).toBe('ignore');
  });

  it('deletes exactly the contract CONTENT_ATTRS from log records, spans and span events', () => {
    const expected = CONTENT_ATTRS.map(deletionFor);
    expect(expected).toHaveLength(33);
    expect(statementsFor('log_statements', 'log').slice(0, expected.length)).toEqual(expected);
    expect(statementsFor('trace_statements', 'span')).toEqual(expected);
    expect(statementsFor('trace_statements', 'spanevent')).toEqual(expected);
  });

  it('covers the OpenInference, OpenLLMetry and OpenLIT content keys', () => {
    const names: readonly string[] = CONTENT_ATTRS;
    for (const key of [
      'llm.prompts*',
      'llm.prompt_template*',
      'retrieval.documents*',
      'embedding.embeddings*',
      'reranker.input_documents*',
      'input.value',
      'output.value',
      'gen_ai.prompt*',
      'gen_ai.completion*',
      'gen_ai.content.*',
      'traceloop.entity.input',
      'traceloop.entity.output',
    ])
      expect(names, key).toContain(key);
  });

  it('clears the body of GenAI log records (older semconv events carry the content there)', () => {
    const statements = statementsFor('log_statements', 'log');
    expect(statements).toHaveLength(CONTENT_ATTRS.length + 1);
    const body = statements.at(-1) ?? '';
    expect(body.startsWith('set(body, "") where ')).toBe(true);
    for (const marker of ['gen_ai.system', 'gen_ai.provider.name', 'gen_ai.operation.name', 'event.name'])
      expect(body).toContain(`attributes["${marker}"]`);
    expect(body).toContain('IsMatch(attributes["event.name"], "^gen_ai\\\\.")');
  });

  it('never lets OpenSearch or Jaeger hold up the file export: separate exporters, a queue, retries', () => {
    const exporters = Object.keys(recordAt(config, 'exporters')).sort();
    expect(exporters).toEqual(['file/genai_logs', 'file/genai_traces', 'otlp/backends']);
    const forward = recordAt(config, 'exporters', 'otlp/backends');
    expect(recordAt(forward, 'sending_queue').enabled).toBe(true);
    expect(recordAt(forward, 'retry_on_failure').enabled).toBe(true);
    for (const name of ['logs/genai', 'traces/genai'])
      expect(stringsAt(pipelines, name, 'exporters').every((e) => e.startsWith('file/'))).toBe(true);
  });

  it('writes the file export as rotated OTLP JSON flushed every second', () => {
    for (const name of ['file/genai_logs', 'file/genai_traces']) {
      const exporter = recordAt(config, 'exporters', name);
      expect(exporter.format, name).toBe('json');
      expect(exporter.flush_interval, name).toBe('1s');
      expect(exporter.append, name).toBeUndefined();
      expect(recordAt(exporter, 'rotation').max_megabytes, name).toBe(100);
      expect(String(exporter.path)).toMatch(/^\/var\/spendline\/export\/genai-(logs|traces)\.jsonl$/);
    }
  });

  it('the backends collector sends logs to OpenSearch (timestamps fixed, copies for the template) and traces to Jaeger', () => {
    const bp = recordAt(backends, 'service', 'pipelines');
    expect(stringsAt(bp, 'logs', 'exporters')).toEqual(['opensearch']);
    expect(stringsAt(bp, 'logs', 'processors')).toEqual(['memory_limiter', 'transform/opensearch', 'batch']);
    expect(stringsAt(bp, 'traces', 'exporters')).toEqual(['otlp/jaeger']);
    expect(transformStatements(backends, 'transform/opensearch', 'log_statements', 'log')).toEqual([
      'set(observed_time, Now()) where observed_time_unix_nano == 0',
      'set(time, observed_time) where time_unix_nano == 0',
      'set(attributes["spendline.error.type"], attributes["error.type"]) where attributes["error.type"] != nil',
      'set(attributes["spendline.user.id"], attributes["user.id"]) where attributes["user.id"] != nil',
      'set(attributes["spendline.session.id"], attributes["session.id"]) where attributes["session.id"] != nil',
    ]);
    for (const name of ['opensearch', 'otlp/jaeger']) {
      const e = recordAt(backends, 'exporters', name);
      expect(recordAt(e, 'sending_queue').enabled, name).toBe(true);
      expect(recordAt(e, 'retry_on_failure').enabled, name).toBe(true);
    }
    const os = recordAt(backends, 'exporters', 'opensearch');
    expect(recordAt(os, 'http').endpoint).toBe('http://opensearch:9200');
    expect([os.dataset, os.namespace, recordAt(os, 'mapping').mode]).toEqual([
      'spendline',
      'default',
      'ss4o',
    ]);
    const jaeger = recordAt(backends, 'exporters', 'otlp/jaeger');
    expect(jaeger.endpoint).toBe('jaeger:4317');
  });

  for (const [file, doc] of [
    ['otelcol-gateway-example.yaml', gateway],
    ['otelcol-gateway.yaml (compose scale profile)', composeGateway],
  ] as const) {
    it(`${file} load-balances logs and traces by trace ID, so a call's event and span meet`, () => {
      const lb = recordAt(doc, 'exporters', 'loadbalancing');
      // Explicit: the exporter's default for logs is `service` routing, which would split a call.
      expect(lb.routing_key).toBe('traceID');
      expect(Object.keys(recordAt(lb, 'protocol'))).toEqual(['otlp']);
      const resolver = recordAt(lb, 'resolver');
      expect(Object.keys(resolver)).toEqual(['dns']);
      expect(typeof recordAt(resolver, 'dns').hostname).toBe('string');
      expect(recordAt(resolver, 'dns').port).toBe(4317);
      const gp = recordAt(doc, 'service', 'pipelines');
      expect(Object.keys(gp).sort()).toEqual(['logs', 'traces']);
      for (const name of ['logs', 'traces']) {
        expect(stringsAt(gp, name, 'receivers')).toEqual(['otlp']);
        expect(stringsAt(gp, name, 'exporters')).toEqual(['loadbalancing']);
      }
    });

    it(`${file} retries a failed send on the load balancer, which routes it again, not on the dead collector`, () => {
      const lb = recordAt(doc, 'exporters', 'loadbalancing');
      expect(recordAt(lb, 'sending_queue').enabled).toBe(true);
      expect(recordAt(lb, 'retry_on_failure').enabled).toBe(true);
      const otlp = recordAt(lb, 'protocol', 'otlp');
      expect(recordAt(otlp, 'sending_queue').enabled).toBe(false);
      expect(recordAt(otlp, 'retry_on_failure').enabled).toBe(false);
      expect(otlp.endpoint).toBeUndefined();
    });
  }

  it('the compose gateway receives OTLP on the ports compose maps and exposes health and metrics', () => {
    const protocols = recordAt(composeGateway, 'receivers', 'otlp', 'protocols');
    expect(recordAt(protocols, 'grpc').endpoint).toBe('0.0.0.0:4317');
    expect(recordAt(protocols, 'http').endpoint).toBe('0.0.0.0:4318');
    expect(recordAt(composeGateway, 'extensions', 'health_check').endpoint).toBe('0.0.0.0:13133');
    const readers = recordAt(composeGateway, 'service', 'telemetry', 'metrics').readers;
    expect(readers).toEqual([{ pull: { exporter: { prometheus: { host: '0.0.0.0', port: 8888 } } } }]);
  });
});

/**
 * A small evaluator of the OTTL conditions filter/genai_only uses (a conjunction of
 * `attributes["k"] == nil`, `name == "s"`, `instrumentation_scope.name == "s"`,
 * `IsMatch(name | instrumentation_scope.name, "regex")` and `not (...)`), so every emitter fixture can
 * be passed through the filter as the collector would. An unknown form throws: the test then fails
 * instead of guessing.
 */
interface FilterSubject {
  name: string;
  scope: string;
  attributes: Set<string>;
}
type Condition = (s: FilterSubject) => boolean;

function ottlString(literal: string): string {
  return literal.slice(1, -1).replace(/\\(.)/g, '$1');
}

function parseCondition(src: string): Condition {
  const terms: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && src.startsWith(' and ', i)) {
      terms.push(src.slice(start, i));
      start = i + 5;
      i += 4;
    }
  }
  terms.push(src.slice(start));
  const conditions = terms.map((t) => parseTerm(t.trim()));
  return (s) => conditions.every((c) => c(s));
}

function parseTerm(t: string): Condition {
  const STR = '("(?:[^"\\\\]|\\\\.)*")';
  let m = /^not \((.*)\)$/.exec(t);
  if (m) {
    const inner = parseCondition(m[1] as string);
    return (s) => !inner(s);
  }
  m = new RegExp(`^attributes\\[${STR}\\] == nil$`).exec(t);
  if (m) {
    const key = ottlString(m[1] as string);
    return (s) => !s.attributes.has(key);
  }
  const field = (f: string) => (s: FilterSubject) => (f === 'name' ? s.name : s.scope);
  m = new RegExp(`^(name|instrumentation_scope\\.name) == ${STR}$`).exec(t);
  if (m) {
    const get = field(m[1] as string);
    const want = ottlString(m[2] as string);
    return (s) => get(s) === want;
  }
  m = new RegExp(`^IsMatch\\((name|instrumentation_scope\\.name), ${STR}\\)$`).exec(t);
  if (m) {
    const get = field(m[1] as string);
    const re = new RegExp(ottlString(m[2] as string));
    return (s) => re.test(get(s));
  }
  throw new Error(`OTTL term this test cannot evaluate: ${t}`);
}

describe('filter/genai_only keeps every record the sidecar counts', () => {
  const filter = recordAt(config, 'processors', 'filter/genai_only');
  const [logDrop] = stringsAt(filter, 'logs', 'log_record').map(parseCondition);
  const [spanDrop] = stringsAt(filter, 'traces', 'span').map(parseCondition);
  const fixtures = readdirSync(EMITTER_FIXTURES).filter((f) => f.endsWith('.otlp.jsonl'));

  it('evaluates its own conditions (a marker keeps a record, none drops it)', () => {
    const s = (attributes: string[], name = 'x', scope = 'y') => ({
      name,
      scope,
      attributes: new Set(attributes),
    });
    expect(spanDrop?.(s([]))).toBe(true);
    expect(spanDrop?.(s([ATTR.operationName]))).toBe(false);
    expect(logDrop?.(s([ATTR.usageId]))).toBe(false);
    expect(spanDrop?.(s([], 'openai.response', 'opentelemetry.instrumentation.openai.v1'))).toBe(false);
    expect(fixtures.length).toBeGreaterThan(20);
  });

  it.each(fixtures)('%s: the records the decoder counts all pass the filter', (file) => {
    for (const line of readFileSync(join(EMITTER_FIXTURES, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const doc = JSON.parse(line);
      const kept = structuredClone(doc);
      for (const [top, scopes, items, drop] of [
        ['resourceLogs', 'scopeLogs', 'logRecords', logDrop],
        ['resourceSpans', 'scopeSpans', 'spans', spanDrop],
      ] as const) {
        for (const rs of kept[top] ?? [])
          for (const ss of rs[scopes] ?? [])
            ss[items] = (ss[items] ?? []).filter(
              (r: { name?: string; attributes?: { key: string }[] }) =>
                !drop?.({
                  name: r.name ?? '',
                  scope: ss.scope?.name ?? '',
                  attributes: new Set((r.attributes ?? []).map((a) => a.key)),
                }),
            );
      }
      const counted = (d: unknown) =>
        decodeOtlpJsonLine(JSON.stringify(d))
          .records.map((r) => r.dedupKey)
          .sort();
      expect(counted(kept), file).toEqual(counted(doc));
    }
  });
});
