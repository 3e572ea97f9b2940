/**
 * OpenSearch assets: the index template maps the exact paths the backends collector's opensearch
 * exporter writes (ss4o mode: `attributes.<name>`, `resource.<name>`, dotted names expanded into
 * objects) without an object path that an ordinary attribute name collides with, every saved query
 * uses only mapped fields the pipeline writes, the ISM policy keeps 90 days for the data stream's
 * backing indices, and opensearch/init.sh (run against a loopback fake) fails loudly on anything
 * but "already exists".
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ATTR, CONTENT_ATTRS, RESOURCE_ATTR } from '@spendline/sdk/contract';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import {
  isRecord,
  readRepoJson,
  readRepoText,
  readRepoYaml,
  recordAt,
  repoPath,
} from './support/repoFiles.js';

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
/** Attributes the backends collector copies into the spendline namespace for the template. */
const OPENSEARCH_COPIES: Record<string, string> = {
  'spendline.error.type': ATTR.errorType,
  'spendline.user.id': ATTR.userId,
  'spendline.session.id': ATTR.sessionId,
};
/** Plain attribute names in common use that must never be an object path in the template. */
const COMMON_ATTRIBUTE_NAMES = [
  'error',
  'user',
  'session',
  'http',
  'db',
  'url',
  'server',
  'client',
  'exception',
  'code',
  'message',
  'event',
  'service',
  'deployment',
  'host',
  'process',
];
const COMMON_RESOURCE_NAMES = [
  'deployment',
  'deployment.environment',
  'host',
  'process',
  'os',
  'cloud',
  'k8s',
  'container',
  'telemetry',
];

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
    const exporter = recordAt(
      readRepoYaml('collector-config/otelcol-backends.yaml'),
      'exporters',
      'opensearch',
    );
    const index = `ss4o_logs-${String(exporter.dataset)}-${String(exporter.namespace)}`;
    const patterns =
      isRecord(template) && Array.isArray(template.index_patterns) ? template.index_patterns.map(String) : [];
    expect(patterns.some((p) => picomatch(p)(index))).toBe(true);
    expect(recordAt(template, 'data_stream')).toEqual({});
    // Index templates can no longer attach an ISM policy (the policy's ism_template does).
    expect(
      Object.keys(recordAt(template, 'template', 'settings')).filter((k) => k.includes('index_state')),
    ).toEqual([]);
  });

  it('maps no object path an ordinary attribute collides with; other attributes are not mapped at all', () => {
    const props = recordAt(template, 'template', 'mappings', 'properties');
    expect(recordAt(props, 'attributes').dynamic).toBe(false);
    expect(recordAt(props, 'resource').dynamic).toBe(false);
    const attrParents = new Set(
      [...mapped.keys()].filter((p) => p.startsWith('attributes.')).map((p) => p.split('.')[1]),
    );
    expect([...attrParents].sort()).toEqual(['gen_ai', 'spendline']);
    for (const name of COMMON_ATTRIBUTE_NAMES) {
      expect(
        [...mapped.keys()].some((p) => p.startsWith(`attributes.${name}.`)),
        name,
      ).toBe(false);
    }
    for (const name of COMMON_RESOURCE_NAMES) {
      expect(
        [...mapped.keys()].some((p) => p.startsWith(`resource.${name}.`)),
        name,
      ).toBe(false);
    }
    expect(recordAt(template, 'template', 'mappings').dynamic_templates).toBeUndefined();
  });

  it('maps only ss4o document fields, and under attributes/resource only names from the SDK contract', () => {
    const attrNames = new Set<string>([
      ...Object.values(ATTR),
      'gen_ai.system',
      ...Object.keys(OPENSEARCH_COPIES),
    ]);
    const resourceNames = new Set<string>(Object.values(RESOURCE_ATTR));
    for (const path of mapped.keys()) {
      const top = path.startsWith('@') ? path : (path.split('.')[0] ?? '');
      expect(SS4O_LOG_FIELDS, path).toContain(top);
      if (path.startsWith('attributes.')) expect(attrNames.has(path.slice(11)), path).toBe(true);
      if (path.startsWith('resource.')) expect(resourceNames.has(path.slice(9)), path).toBe(true);
    }
    // Every contract attribute is mapped (itself, or its spendline.* copy), so none is left
    // unindexed by accident; the copies are the ones the backends collector makes.
    const copied = new Set(Object.values(OPENSEARCH_COPIES));
    for (const name of Object.values(ATTR)) {
      if (copied.has(name)) continue;
      expect(mapped.has(`attributes.${name}`), name).toBe(true);
    }
    for (const copy of Object.keys(OPENSEARCH_COPIES))
      expect(mapped.get(`attributes.${copy}`), copy).toBe('keyword');
    const backends = readRepoText('collector-config/otelcol-backends.yaml');
    for (const [copy, source] of Object.entries(OPENSEARCH_COPIES))
      expect(backends, copy).toContain(`set(attributes["${copy}"], attributes["${source}"])`);
    for (const name of ['service.name', 'service.version'])
      expect(mapped.has(`resource.${name}`), name).toBe(true);
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
      ATTR.sdkRecorded,
    ];
    for (const name of flags) expect(mapped.get(`attributes.${name}`), name).toBe('boolean');
    const copied = new Set(Object.values(OPENSEARCH_COPIES));
    for (const name of Object.values(ATTR).filter(
      (n) => !numeric.includes(n) && !flags.includes(n) && !copied.has(n),
    )) {
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
      ...Object.keys(OPENSEARCH_COPIES).map((n) => `attributes.${n}`),
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
    // The data stream's backing indices are what ISM manages: .ds-<stream>-<generation>.
    expect(patterns).toEqual(['.ds-ss4o_logs-spendline-*']);
    expect(patterns.some((p) => picomatch(p, { dot: true })('.ds-ss4o_logs-spendline-default-000001'))).toBe(
      true,
    );
  });
});

/** Runs opensearch/init.sh against a loopback fake OpenSearch answering each PUT path as given. */
async function runInit(
  answers: Record<string, { status: number; body: string }>,
): Promise<{ code: number; stdout: string; stderr: string; requests: { path: string; body: string }[] }> {
  const requests: { path: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      requests.push({ path: req.url ?? '', body });
      const answer = answers[req.url ?? ''] ?? { status: 200, body: '{"acknowledged":true}' };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    return await new Promise((resolve) => {
      execFile(
        'sh',
        [repoPath('opensearch/init.sh')],
        { env: { ...process.env, OPENSEARCH_URL: `http://127.0.0.1:${port}` }, timeout: 20_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, requests }),
      );
    });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

describe('opensearch/init.sh (docker-compose opensearch-init)', () => {
  const POLICY = '/_plugins/_ism/policies/spendline-usage-logs-90d';
  const TEMPLATE = '/_index_template/spendline-usage-logs';
  const STREAM = '/_data_stream/ss4o_logs-spendline-default';

  it('loads the policy, then the template, then the data stream, sending the repository files', async () => {
    const r = await runInit({});
    expect(r.code, r.stderr).toBe(0);
    expect(r.requests.map((q) => q.path)).toEqual([POLICY, TEMPLATE, STREAM]);
    expect(JSON.parse(r.requests[0]?.body ?? '')).toEqual(readRepoJson('opensearch/ism-policy.json'));
    expect(JSON.parse(r.requests[1]?.body ?? '')).toEqual(template);
  });

  it('a second run (everything already exists) succeeds', async () => {
    const r = await runInit({
      [POLICY]: {
        status: 409,
        body: '{"error":{"type":"version_conflict_engine_exception","reason":"document already exists"},"status":409}',
      },
      [STREAM]: {
        status: 400,
        body: '{"error":{"type":"resource_already_exists_exception","reason":"data_stream [x] already exists"},"status":400}',
      },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('already exists');
  });

  it('fails loudly, before the data stream, when the template is rejected', async () => {
    const r = await runInit({
      [TEMPLATE]: {
        status: 400,
        body: '{"error":{"type":"mapper_parsing_exception","reason":"unknown parameter [flat]"},"status":400}',
      },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('index template spendline-usage-logs FAILED (HTTP 400)');
    expect(r.stderr).toContain('mapper_parsing_exception');
    expect(r.requests.map((q) => q.path)).toEqual([POLICY, TEMPLATE]);
  });

  it('fails when OpenSearch cannot be reached', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        'sh',
        [repoPath('opensearch/init.sh')],
        { env: { ...process.env, OPENSEARCH_URL: 'http://127.0.0.1:1' }, timeout: 20_000 },
        (err, _out, stderr) => resolve({ code: err ? 1 : 0, stderr }),
      ),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach');
  });
});
