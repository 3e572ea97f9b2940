/**
 * The exposed metric set is exactly the design's table (names, types, label names, buckets), user.id
 * is never a label, and nano-USD totals render as exact USD values.
 */
import { describe, expect, it } from 'vitest';
import { createSidecarMetrics, DURATION_BUCKETS } from '../src/metrics.js';

const DESIGN: Record<string, { type: string; labels: string[] }> = {
  llm_requests_total: { type: 'counter', labels: ['provider', 'model', 'service', 'operation', 'status'] },
  llm_tokens_total: { type: 'counter', labels: ['provider', 'model', 'service', 'token_type', 'usage_type'] },
  llm_cost_usd_total: { type: 'counter', labels: ['provider', 'model', 'service', 'feature', 'usage_type'] },
  llm_unpriced_requests_total: { type: 'counter', labels: ['provider', 'model', 'service'] },
  llm_unknown_usage_requests_total: { type: 'counter', labels: ['provider', 'model', 'service', 'status'] },
  llm_request_duration_seconds: { type: 'histogram', labels: ['provider', 'model', 'service', 'operation'] },
  llm_time_to_first_token_seconds: { type: 'histogram', labels: ['provider', 'model', 'service'] },
  llm_ocr_pages_total: { type: 'counter', labels: ['provider', 'model', 'service'] },
  llm_embedding_inputs_total: { type: 'counter', labels: ['provider', 'model', 'service'] },
  spendline_records_total: { type: 'counter', labels: ['source', 'result'] },
  spendline_rejected_records_total: { type: 'counter', labels: ['reason'] },
  spendline_lost_bytes_total: { type: 'counter', labels: ['reason'] },
  spendline_label_overflow_total: { type: 'counter', labels: ['label'] },
  spendline_label_truncated_total: { type: 'counter', labels: ['label'] },
};

describe('sidecar metric catalogue', () => {
  it('defines every metric of the design table with its type and labels, and never a user label', async () => {
    const m = createSidecarMetrics();
    const defined: Record<string, { type: string; labels: string[] }> = {};
    for (const c of Object.values(m.counters)) defined[c.name] = { type: c.type, labels: [...c.labelNames] };
    for (const h of Object.values(m.histograms))
      defined[h.name] = { type: h.type, labels: [...h.labelNames] };
    expect(defined).toEqual(DESIGN);
    expect(m.histograms.duration.buckets).toEqual([
      0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ]);
    expect(DURATION_BUCKETS).toEqual(m.histograms.duration.buckets);
    const labels = Object.values(defined).flatMap((d) => d.labels);
    expect(labels.filter((l) => /user/.test(l))).toEqual([]);

    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
    for (const n of [
      'spendline_unread_bytes',
      'spendline_unreadable_file_bytes',
      'spendline_last_record_timestamp_seconds',
      'spendline_ready',
      'spendline_batch_commit_seconds',
    ])
      expect(names).toContain(n);
  });

  it('renders nano-USD totals as USD and histograms cumulatively', async () => {
    const m = createSidecarMetrics();
    m.counters.cost.setTotal(['openai', 'gpt-4o', 'svc', 'search', 'exact'], 1_234_567_891);
    m.counters.requests.setTotal(['openai', 'gpt-4o', 'svc', 'chat', 'ok'], 7);
    const s = m.histograms.duration.emptyState();
    for (const v of [0.005, 0.01, 0.3, 100]) m.histograms.duration.observeInto(s, v);
    m.histograms.duration.setState(['openai', 'gpt-4o', 'svc', 'chat'], s);
    const text = await m.registry.metrics();
    expect(text).toContain('# TYPE llm_cost_usd_total counter');
    expect(text).toContain(
      'llm_cost_usd_total{provider="openai",model="gpt-4o",service="svc",feature="search",usage_type="exact"} 1.234567891',
    );
    expect(text).toContain(
      'llm_requests_total{provider="openai",model="gpt-4o",service="svc",operation="chat",status="ok"} 7',
    );
    const lbl = 'provider="openai",model="gpt-4o",service="svc",operation="chat"';
    expect(text).toContain(`llm_request_duration_seconds_bucket{${lbl},le="0.01"} 2`);
    expect(text).toContain(`llm_request_duration_seconds_bucket{${lbl},le="0.32"} 3`);
    expect(text).toContain(`llm_request_duration_seconds_bucket{${lbl},le="81.92"} 3`);
    expect(text).toContain(`llm_request_duration_seconds_bucket{${lbl},le="+Inf"} 4`);
    expect(text).toContain(`llm_request_duration_seconds_count{${lbl}} 4`);
    for (const name of Object.keys(DESIGN)) expect(text).toMatch(new RegExp(`# HELP ${name} \\S`));
  });
});
