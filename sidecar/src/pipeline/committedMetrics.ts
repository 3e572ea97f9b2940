/**
 * Counters and histograms whose values are exactly what the ledger has committed. prom-client's own
 * Counter cannot be restored to a stored total without replaying it, and sums of float deltas drift;
 * these keep integer totals (cost in nano-USD) and render them through a prom-client Registry.
 */
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** A series key: label values joined in label-name order (values cannot contain \u0001 in practice). */
export function seriesKey(values: readonly string[]): string {
  return values.join('\u0001');
}

export class CommittedCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  /** Series key -> [label values, integer total]. */
  readonly series = new Map<string, { values: string[]; total: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    /** Rendered value = total / scale (1e9 for nano-USD counters, 1 otherwise). */
    readonly scale = 1,
  ) {}

  /** Sets a series to its committed total (restore from the ledger, or after a commit). */
  setTotal(values: string[], total: number): void {
    const key = seriesKey(values);
    const s = this.series.get(key);
    if (s === undefined) this.series.set(key, { values, total });
    else s.total = total;
  }

  total(values: readonly string[]): number {
    return this.series.get(seriesKey(values))?.total ?? 0;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) {
      const labels: Labels = {};
      for (let i = 0; i < this.labelNames.length; i++)
        labels[this.labelNames[i] as string] = s.values[i] ?? '';
      values.push({ labels, value: this.scale === 1 ? s.total : s.total / this.scale });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  register(registry: Registry): this {
    registry.registerMetric(this as never);
    return this;
  }
}

export interface HistogramState {
  /** Non-cumulative counts per bucket; the last entry is the +Inf overflow bucket. */
  counts: number[];
  sum: number;
  count: number;
}

export class CommittedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly series = new Map<string, { values: string[]; state: HistogramState }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  emptyState(): HistogramState {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  /** Adds one observation into a state (a batch delta or a total). */
  observeInto(state: HistogramState, value: number): void {
    let i = 0;
    while (i < this.buckets.length && value > (this.buckets[i] as number)) i++;
    state.counts[i] = (state.counts[i] ?? 0) + 1;
    state.sum += value;
    state.count += 1;
  }

  setState(values: string[], state: HistogramState): void {
    this.series.set(seriesKey(values), { values, state });
  }

  state(values: readonly string[]): HistogramState | undefined {
    return this.series.get(seriesKey(values))?.state;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const out: MetricValue[] = [];
    for (const s of this.series.values()) {
      const labels: Labels = {};
      for (let i = 0; i < this.labelNames.length; i++)
        labels[this.labelNames[i] as string] = s.values[i] ?? '';
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.state.counts[i] ?? 0;
        out.push({
          labels: { ...labels, le: String(this.buckets[i]) },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      out.push({
        labels: { ...labels, le: '+Inf' },
        value: s.state.count,
        metricName: `${this.name}_bucket`,
      });
      out.push({ labels, value: s.state.sum, metricName: `${this.name}_sum` });
      out.push({ labels, value: s.state.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: out };
  }

  register(registry: Registry): this {
    registry.registerMetric(this as never);
    return this;
  }
}
