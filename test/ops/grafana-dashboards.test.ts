/**
 * Grafana dashboards: the four provisioned dashboards, their template variables, and every panel
 * query (variables substituted as Grafana sends them) parsed by a real Prometheus.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningPrometheus, startPrometheus } from '../support/prometheus.js';
import { loadDashboards, substituteVariables } from './support/dashboards.js';
import { isRecord, readRepoJson, readRepoYaml } from './support/repoFiles.js';

/** Metrics the dashboards may read: the sidecar's (docs: design metrics table) and Prometheus' `up`. */
const SIDECAR_METRICS = [
  'llm_requests_total',
  'llm_tokens_total',
  'llm_cost_usd_total',
  'llm_unpriced_requests_total',
  'llm_unknown_usage_requests_total',
  'llm_request_duration_seconds_bucket',
  'llm_request_duration_seconds_sum',
  'llm_request_duration_seconds_count',
  'llm_time_to_first_token_seconds_bucket',
  'llm_ocr_pages_total',
  'llm_embedding_inputs_total',
  'llm_tracked_cost_usd',
  'llm_billed_cost_usd',
  'llm_untracked_cost_usd',
  'llm_billed_tokens',
  'llm_tracked_tokens',
  'llm_budget_limit_usd',
  'llm_budget_spent_usd',
  'spendline_records_total',
  'spendline_rejected_records_total',
  'spendline_unread_bytes',
  'spendline_last_record_timestamp_seconds',
  'up',
];
const COLLECTOR_METRIC = /^otelcol_[a-z_]+$/;
const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'and', 'or', 'unless', 'offset', 'bool']);

/** Metric names in a PromQL expression: identifiers outside label matchers, grouping and ranges that are not calls. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1] ?? '');
  return names.filter((n) => !PROMQL_KEYWORDS.has(n));
}

const dashboards = loadDashboards();

describe('grafana dashboards (static)', () => {
  it('provisions the four dashboards, each with provider, model and service variables', () => {
    expect(dashboards.map((d) => d.title).sort()).toEqual([
      'LLM cost',
      'LLM performance',
      'Pipeline health',
      'Reconciliation',
    ]);
    for (const d of dashboards) expect(d.variables, d.title).toEqual(['provider', 'model', 'service']);
  });

  it('points every panel at the provisioned Prometheus datasource', () => {
    const provisioning = readRepoYaml('grafana/provisioning/datasources/prometheus.yml');
    const ds =
      isRecord(provisioning) && Array.isArray(provisioning.datasources) ? provisioning.datasources : [];
    const uid = isRecord(ds[0]) ? ds[0].uid : undefined;
    expect(uid).toBe('spendline-prometheus');
    for (const d of dashboards) {
      const json = readRepoJson(`grafana/dashboards/${d.file}`);
      const panels = isRecord(json) && Array.isArray(json.panels) ? json.panels.filter(isRecord) : [];
      for (const p of panels)
        expect(isRecord(p.datasource) ? p.datasource.uid : undefined, String(p.title)).toBe(uid);
    }
  });

  it('reads only metrics the sidecar, the collector or Prometheus export', () => {
    const queries = dashboards.flatMap((d) => d.queries);
    const used = new Set(queries.flatMap((q) => metricNames(q.expr)));
    expect(metricNames('sum by (model) (rate(bogus_metric{a="b"}[5m])) / on() up')).toEqual([
      'bogus_metric',
      'up',
    ]);
    for (const name of used) {
      if (COLLECTOR_METRIC.test(name)) continue;
      expect(SIDECAR_METRICS, name).toContain(name);
    }
    // Every sidecar metric family the design lists is on some dashboard.
    for (const name of SIDECAR_METRICS) expect([...used], name).toContain(name);
  });

  it('merges the queries of every multi-query table and names a column after each query', () => {
    let tables = 0;
    for (const file of ['llm-cost', 'llm-performance', 'pipeline-health', 'reconciliation']) {
      const json = readRepoJson(`grafana/dashboards/${file}.json`) as { panels: Record<string, unknown>[] };
      for (const panel of json.panels) {
        const targets = (panel.targets ?? []) as { refId: string }[];
        if (panel.type !== 'table' || targets.length < 2) continue;
        tables++;
        const transformations = (panel.transformations ?? []) as {
          id: string;
          options?: { renameByName?: Record<string, string> };
        }[];
        const ids = transformations.map((t) => t.id);
        expect(ids.includes('merge') || ids.includes('joinByField'), `${file}: ${panel.title}`).toBe(true);
        const renames = transformations.find((t) => t.id === 'organize')?.options?.renameByName ?? {};
        for (const t of targets)
          expect(renames[`Value #${t.refId}`], `${panel.title} ${t.refId}`).toBeTruthy();
      }
    }
    expect(tables).toBeGreaterThanOrEqual(2);
  });

  it('the calls/errors/latency table has an errors query', () => {
    const json = readRepoJson('grafana/dashboards/llm-performance.json') as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const panel = json.panels.find((p) => /errors/i.test(p.title) && /calls/i.test(p.title));
    expect(panel?.targets?.some((t) => t.expr.includes('status="error"'))).toBe(true);
  });

  it('shows latency as p50, p90 and p99 histogram quantiles', () => {
    const perf = dashboards.find((d) => d.title === 'LLM performance');
    const panel = perf?.queries.filter((q) => q.panel === 'Latency p50 / p90 / p99').map((q) => q.expr) ?? [];
    expect(panel.map((e) => e.match(/^histogram_quantile\((0\.\d+),/)?.[1])).toEqual(['0.5', '0.9', '0.99']);
  });
});

describe('grafana dashboards (every query parsed by a real Prometheus)', () => {
  let prom: RunningPrometheus;
  beforeAll(async () => {
    prom = await startPrometheus({ scrapeConfigs: [] });
  });
  afterAll(async () => {
    await prom?.stop();
  });

  it('every panel query, variables substituted, is valid PromQL', async () => {
    const queries = dashboards.flatMap((d) => d.queries);
    expect(queries.length).toBeGreaterThan(30);
    const failures: string[] = [];
    for (const q of queries) {
      const variants: Record<string, string>[] = [
        {},
        { provider: 'openai', model: 'gpt-4o', service: 'api' },
      ];
      for (const values of variants) {
        const expr = substituteVariables(q.expr, values);
        expect(expr, q.expr).not.toContain('$');
        try {
          await prom.query(expr);
        } catch (err) {
          failures.push(`${q.dashboard} / ${q.panel} ${q.refId}: ${(err as Error).message}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
