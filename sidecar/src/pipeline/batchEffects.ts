import type { PrincipalRollupKey, RollupKey } from '../ledger/rollups.js';
import { emptyMeasures, type Measures } from '../ledger/rollups.js';
import type { CounterName, HistogramName, SidecarMetrics } from '../metrics.js';
import type { HistogramState } from './committedMetrics.js';
import { seriesKey } from './committedMetrics.js';

/**
 * Everything one batch changes, gathered before the ledger transaction and applied to the registry
 * only after it commits (the registry never shows an uncommitted batch).
 */
export class BatchEffects {
  readonly counters = new Map<CounterName, Map<string, { values: string[]; delta: number }>>();
  readonly histograms = new Map<HistogramName, Map<string, { values: string[]; state: HistogramState }>>();
  readonly rollups = new Map<string, { key: RollupKey; measures: Measures }>();
  readonly principals = new Map<string, { key: PrincipalRollupKey; measures: Measures }>();
  admittedLabels: [string, string][] = [];
  lastRecordMs = 0;
  countedRecords = 0;

  constructor(private readonly metrics: SidecarMetrics) {}

  add(counter: CounterName, values: string[], delta: number): void {
    let m = this.counters.get(counter);
    if (m === undefined) {
      m = new Map();
      this.counters.set(counter, m);
    }
    const key = seriesKey(values);
    const s = m.get(key);
    if (s === undefined) m.set(key, { values, delta });
    else s.delta += delta;
  }

  observe(histogram: HistogramName, values: string[], value: number): void {
    let m = this.histograms.get(histogram);
    if (m === undefined) {
      m = new Map();
      this.histograms.set(histogram, m);
    }
    const h = this.metrics.histograms[histogram];
    const key = seriesKey(values);
    let s = m.get(key);
    if (s === undefined) {
      s = { values, state: h.emptyState() };
      m.set(key, s);
    }
    h.observeInto(s.state, value);
  }

  rollup(key: RollupKey): Measures {
    const k = `${key.bucketStart}|${key.provider}|${key.model}|${key.service}|${key.operation}|${key.feature}|${key.tenantId}|${key.usageType}`;
    let r = this.rollups.get(k);
    if (r === undefined) {
      r = { key, measures: emptyMeasures() };
      this.rollups.set(k, r);
    }
    return r.measures;
  }

  principal(key: PrincipalRollupKey): Measures {
    const k = `${key.principalKind}|${key.principalId}|${key.bucketStart}|${key.provider}|${key.model}|${key.service}|${key.feature}|${key.usageType}`;
    let r = this.principals.get(k);
    if (r === undefined) {
      r = { key, measures: emptyMeasures() };
      this.principals.set(k, r);
    }
    return r.measures;
  }
}
