/**
 * OpenSearch assets: the index template maps the exact paths the collector's opensearch exporter
 * writes (ss4o mode: `attributes.<name>`, `resource.<name>`, dotted names expanded into objects), every
 * saved query uses only mapped fields the SDK emits, and the ISM policy keeps 90 days.
 */
import { readdirSync } from 'node:fs';
import { ATTR, CONTENT_ATTRS, RESOURCE_ATTR } from '@spendline/sdk/contract';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { isRecord, readRepoJson, readRepoYaml, recordAt, repoPath } from './support/repoFiles.js';

/** Top-level fields of an ss4o log document (exporter/opensearchexporter/sso_model.go `ssoLog`). */
const SS4O_LOG_FIELDS = [
  '@timestamp',
  'observedTimestamp',
  'traceId',
  'spanId',
  'body',
  'schemaUrl',
  'severity',
  'instrumentationScope',
  'resource',
  'attributes',
];
const NUMERIC = ['long', 'integer', 'double', 'float', 'scaled_float'];

const template = readRepoJson('opensearch/index-template.json');

/** Flattens mapping `properties` into dotted leaf paths → type. */
function leafTypes(properties: Record<string, unknown>, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(properties)) {
    const node = recordAt(value);
    const path = `${prefix}${key}`;
    if (isRecord(node.properties)) for (const [p, t] of leafTypes(node.properties, `${path}.`)) out.set(p, t);
    else out.set(path, String(node.type));
  }
  return out;
}

/** Every `field` an aggregation or query names, plus range keys. */
function fieldsUsed(body: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown, parentKey: string) => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n, parentKey);
      return;
    }
    if (!isRecord(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'field' && typeof value === 'string') out.push(value);
      else if (parentKey === 'range') out.push(key);
      else walk(value, key);
    }
  };
  walk(body, '');
  return out;
}

const mapped = leafTypes(recordAt(template, 'template', 'mappings', 'properties'));
const queryFiles = readdirSync(repoPath('opensearch/queries'))
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('opensearch/', () => {
  it('the template matches the index the collector writes (ss4o_logs-<dataset>-<namespace>) as a data stream', () => {
    const exporter = recordAt(readRepoYaml('collector-config/otelcol.yaml'), 'exporters', 'opensearch');
    const index = `ss4o_logs-${String(exporter.dataset)}-${String(exporter.namespace)}`;
    const patterns =
      isRecord(template) && Array.isArray(template.index_patterns) ? template.index_patterns.map(String) : [];
    expect(patterns.some((p) => picomatch(p)(index))).toBe(true);
    expect(recordAt(template, 'data_stream')).toEqual({});
    expect(recordAt(template, 'template', 'settings')['plugins.index_state_management.policy_id']).toBe(
      'spendline-usage-logs-90d',
    );
  });

  it('maps only ss4o document fields, and under attributes/resource only names from the SDK contract', () => {
    const attrNames = new Set<string>([...Object.values(ATTR), 'gen_ai.system']);
    const resourceNames = new Set<string>(Object.values(RESOURCE_ATTR));
    for (const path of mapped.keys()) {
      const top = path.startsWith('@') ? path : (path.split('.')[0] ?? '');
      expect(SS4O_LOG_FIELDS, path).toContain(top);
      if (path.startsWith('attributes.')) expect(attrNames.has(path.slice(11)), path).toBe(true);
      if (path.startsWith('resource.')) expect(resourceNames.has(path.slice(9)), path).toBe(true);
    }
    // Every contract attribute is mapped, so none is left to dynamic mapping (a first value of 0 would map cost as long).
    for (const name of Object.values(ATTR)) expect(mapped.has(`attributes.${name}`), name).toBe(true);
    for (const name of Object.values(RESOURCE_ATTR)) expect(mapped.has(`resource.${name}`), name).toBe(true);
  });

  it('maps counts and money as numbers and names as keywords, and never maps content', () => {
    const numeric: string[] = [
      ATTR.inputTokens,
      ATTR.outputTokens,
      ATTR.cacheReadInputTokens,
      ATTR.cacheCreationInputTokens,
      ATTR.reasoningOutputTokens,
      ATTR.costUsd,
      ATTR.durationMs,
      ATTR.ttftMs,
      ATTR.ocrPages,
      ATTR.embeddingInputs,
    ];
    for (const name of numeric) expect(NUMERIC, name).toContain(mapped.get(`attributes.${name}`));
    expect(mapped.get(`attributes.${ATTR.costUsd}`)).toBe('double');
    // Flags are true when set (absent otherwise): booleans.
    const flags: string[] = [
      ATTR.requestTools,
      ATTR.requestStructuredOutput,
      ATTR.requestSearchGrounding,
      ATTR.budgetExceeded,
    ];
    for (const name of flags) expect(mapped.get(`attributes.${name}`), name).toBe('boolean');
    for (const name of Object.values(ATTR).filter((n) => !numeric.includes(n) && !flags.includes(n))) {
      expect(mapped.get(`attributes.${name}`), name).toBe('keyword');
    }
    for (const content of CONTENT_ATTRS) {
      const prefix = `attributes.${content.replace(/\*$/, '')}`;
      expect(
        [...mapped.keys()].filter((p) => p.startsWith(prefix)),
        content,
      ).toEqual([]);
    }
  });

  it('the four saved queries use only mapped fields that the SDK emits', () => {
    expect(queryFiles).toEqual([
      'cost-and-tokens-by-model.json',
      'cost-by-user.json',
      'errors-by-type.json',
      'latency-percentiles-by-provider.json',
    ]);
    const emitted = new Set([
      '@timestamp',
      ...Object.values(ATTR).map((n) => `attributes.${n}`),
      ...Object.values(RESOURCE_ATTR).map((n) => `resource.${n}`),
    ]);
    for (const file of queryFiles) {
      const saved = readRepoJson(`opensearch/queries/${file}`);
      expect(typeof recordAt(saved).description, file).toBe('string');
      const fields = fieldsUsed(recordAt(saved, 'body'));
      expect(fields.length, file).toBeGreaterThan(2);
      for (const field of fields) {
        expect(mapped.has(field), `${file}: ${field} mapped`).toBe(true);
        expect(emitted.has(field), `${file}: ${field} emitted`).toBe(true);
      }
    }
  });

  it('aggregates on keywords and sums or takes percentiles of numbers', () => {
    for (const file of queryFiles) {
      const walk = (node: unknown, key: string) => {
        if (Array.isArray(node)) {
          for (const n of node) walk(n, key);
          return;
        }
        if (!isRecord(node)) return;
        if (['terms'].includes(key) && typeof node.field === 'string')
          expect(mapped.get(node.field), `${file} ${node.field}`).toBe('keyword');
        if (['sum', 'percentiles'].includes(key) && typeof node.field === 'string') {
          expect(NUMERIC, `${file} ${node.field}`).toContain(mapped.get(node.field));
        }
        for (const [k, v] of Object.entries(node)) walk(v, k);
      };
      walk(readRepoJson(`opensearch/queries/${file}`), '');
    }
  });

  it('the ISM policy rolls over and deletes after 90 days, for the template’s indices', () => {
    const policy = recordAt(readRepoJson('opensearch/ism-policy.json'), 'policy');
    const states = Array.isArray(policy.states) ? policy.states.filter(isRecord) : [];
    const hot = states.find((s) => s.name === policy.default_state);
    expect(hot?.transitions).toEqual([{ state_name: 'delete', conditions: { min_index_age: '90d' } }]);
    const del = states.find((s) => s.name === 'delete');
    expect(del?.actions).toEqual([{ delete: {} }]);
    const ism = Array.isArray(policy.ism_template) ? policy.ism_template.filter(isRecord) : [];
    const patterns = ism.flatMap((t) =>
      Array.isArray(t.index_patterns) ? t.index_patterns.map(String) : [],
    );
    expect(patterns).toContain('ss4o_logs-spendline-*');
    expect(patterns.some((p) => picomatch(p)('.ds-ss4o_logs-spendline-default-000001'))).toBe(true);
  });
});
