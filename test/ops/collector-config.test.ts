/**
 * The collector config (validated, not run: no collector binary here): every pipeline's components
 * are defined, GenAI-only pipelines feed the rotated JSON file export, and content attributes are
 * deleted before every exporter.
 */
import { ALIAS_ATTR, ATTR, CONTENT_ATTRS } from '@spendline/sdk/contract';
import { describe, expect, it } from 'vitest';
import { isRecord, readRepoYaml, recordAt, stringsAt } from './support/repoFiles.js';

const config = readRepoYaml('collector-config/otelcol.yaml');
const pipelines = recordAt(config, 'service', 'pipelines');

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
  const groups = recordAt(config, 'processors', 'transform/strip_content')[kind];
  if (!Array.isArray(groups)) throw new Error(`transform/strip_content has no ${kind}`);
  const group = groups.filter(isRecord).find((g) => g.context === context);
  if (!group || !Array.isArray(group.statements)) throw new Error(`no ${context} statements`);
  return group.statements.map(String);
}

describe('collector-config/otelcol.yaml', () => {
  it('defines every receiver, processor, exporter and extension that a pipeline uses', () => {
    expect(Object.keys(pipelines).sort()).toEqual(['logs', 'logs/genai', 'traces', 'traces/genai']);
    for (const [name, pipeline] of Object.entries(pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        const defined = recordAt(config, kind);
        for (const component of stringsAt(pipeline, kind)) {
          expect(Object.keys(defined), `${name} ${kind}`).toContain(component);
        }
      }
    }
    for (const extension of stringsAt(config, 'service', 'extensions')) {
      expect(Object.keys(recordAt(config, 'extensions'))).toContain(extension);
    }
    expect(stringsAt(config, 'service', 'extensions')).toEqual(['health_check']);
  });

  it('receives OTLP on gRPC 4317 and HTTP 4318 and exposes its own metrics on 8888', () => {
    const protocols = recordAt(config, 'receivers', 'otlp', 'protocols');
    expect(recordAt(protocols, 'grpc').endpoint).toBe('0.0.0.0:4317');
    expect(recordAt(protocols, 'http').endpoint).toBe('0.0.0.0:4318');
    const readers = recordAt(config, 'service', 'telemetry', 'metrics').readers;
    expect(readers).toEqual([{ pull: { exporter: { prometheus: { host: '0.0.0.0', port: 8888 } } } }]);
  });

  it('routes ordinary logs to OpenSearch, traces to Jaeger, and only GenAI records to the file', () => {
    expect(stringsAt(pipelines, 'logs', 'exporters')).toEqual(['opensearch']);
    expect(stringsAt(pipelines, 'traces', 'exporters')).toEqual(['otlp/jaeger']);
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
    ]
      .map((a) => `attributes["${a}"] == nil`)
      .join(' and ');
    expect(stringsAt(filter, 'logs', 'log_record')).toEqual([expected]);
    expect(stringsAt(filter, 'traces', 'span')).toEqual([expected]);
    expect(filter.error_mode).toBe('ignore');
  });

  it('deletes exactly the contract CONTENT_ATTRS from log records, spans and span events', () => {
    const expected = CONTENT_ATTRS.map(deletionFor);
    expect(expected).toHaveLength(21);
    expect(statementsFor('log_statements', 'log')).toEqual(expected);
    expect(statementsFor('trace_statements', 'span')).toEqual(expected);
    expect(statementsFor('trace_statements', 'spanevent')).toEqual(expected);
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

  it('sends to OpenSearch with the ss4o mapping the index template expects, and to Jaeger over OTLP', () => {
    const os = recordAt(config, 'exporters', 'opensearch');
    expect(recordAt(os, 'http').endpoint).toBe('http://opensearch:9200');
    expect([os.dataset, os.namespace, recordAt(os, 'mapping').mode]).toEqual([
      'spendline',
      'default',
      'ss4o',
    ]);
    const jaeger = recordAt(config, 'exporters', 'otlp/jaeger');
    expect(jaeger.endpoint).toBe('jaeger:4317');
  });
});
