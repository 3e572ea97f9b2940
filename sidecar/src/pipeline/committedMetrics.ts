/**
 * Counters and histograms whose values are exactly what the ledger has committed. prom-client's own
 * Counter cannot be restored to a stored total without replaying it, and sums of float deltas drift;
 * these keep integer totals (cost in nano-USD) and render them through a prom-client Registry.
 *
 * A series born in this process is first exposed at 0 and shows its total only once a scrape has
 * rendered that 0 and `holdMs` has passed (FirstIncrementHold): Prometheus' increase() and rate()
 * ignore the step from "no series" to the first sample, so without the 0 a new series' first batch
 * would be missing from every increase. Series restored from the ledger show their totals at once
 * (Prometheus already has them), so a restart is continuous.
 */
import type { Registry } from 'prom-client';

/**
 * When a new series may show its total. Published once BOTH hold: a /metrics render after the
 * series was born showed it at 0 (so a scraper that was up has its zero), and `holdMs` has passed
 * since birth (so every other scraper, e.g. the second Prometheus of an HA pair, scraping at least
 * every holdMs / 2, has had a scrape at 0 too). `holdMs` 0 turns the hold off (totals at once).
 */
export class FirstIncrementHold {
  private renders = 0;
  constructor(
    readonly holdMs: number,
    /** Monotonic milliseconds: a wall-clock step must not shorten or stretch the hold. */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Call once per /metrics scrape, before rendering. */
  beginScrape(): void {
    this.renders++;
  }

  /** Birth stamp of a series that appears now; undefined = published already. */
  birth(): SeriesBirth | undefined {
    return this.holdMs <= 0 ? undefined : { atMs: this.now(), render: this.renders };
  }

  /** True when a series born at `b` may show its total in the render under way. */
  published(b: SeriesBirth): boolean {
    // Render b.render + 1 is the first to show the series (at 0); it shows the total from a later one.
    return this.renders >= b.render + 2 && this.now() - b.atMs >= this.holdMs;
  }
}

export interface SeriesBirth {
  atMs: number;
  render: number;
}

/** No hold: what unit tests and embedders that render nothing for Prometheus use. */
export const NO_HOLD = new FirstIncrementHold(0);

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
  /** Series key -> [label values, integer total, birth while its first increment is held]. */
  readonly series = new Map<string, { values: string[]; total: number; held?: SeriesBirth | undefined }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    /** Rendered value = total / scale (1e9 for nano-USD counters, 1 otherwise). */
    readonly scale = 1,
  ) {}

  /** Set by register(): when a new series shows its first increment. */
  private hold: FirstIncrementHold = NO_HOLD;

  /** Sets a series to its committed total after a commit; a new series is held at 0 first. */
  setTotal(values: string[], total: number): void {
    const key = seriesKey(values);
    const s = this.series.get(key);
    if (s === undefined) this.series.set(key, { values, total, held: this.hold.birth() });
    else s.total = total;
  }

  /** Restores a series' committed total from the ledger: shown at once (continuous across restarts). */
  restoreTotal(values: string[], total: number): void {
    this.series.set(seriesKey(values), { values, total });
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
      if (s.held !== undefined && this.hold.published(s.held)) s.held = undefined;
      const total = s.held === undefined ? s.total : 0;
      values.push({ labels, value: this.scale === 1 ? total : total / this.scale });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  register(registry: Registry, hold: FirstIncrementHold = NO_HOLD): this {
    this.hold = hold;
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
  readonly series = new Map<
    string,
    { values: string[]; state: HistogramState; held?: SeriesBirth | undefined }
  >();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  /** Set by register(): when a new series shows its first increment. */
  private hold: FirstIncrementHold = NO_HOLD;

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

  /** Sets a series to its committed state after a commit; a new series is held at 0 first. */
  setState(values: string[], state: HistogramState): void {
    const key = seriesKey(values);
    const s = this.series.get(key);
    if (s === undefined) this.series.set(key, { values, state, held: this.hold.birth() });
    else s.state = state;
  }

  /** Restores a series' committed state from the ledger: shown at once. */
  restoreState(values: string[], state: HistogramState): void {
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
      if (s.held !== undefined && this.hold.published(s.held)) s.held = undefined;
      const state = s.held === undefined ? s.state : this.emptyState();
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += state.counts[i] ?? 0;
        out.push({
          labels: { ...labels, le: String(this.buckets[i]) },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      out.push({
        labels: { ...labels, le: '+Inf' },
        value: state.count,
        metricName: `${this.name}_bucket`,
      });
      out.push({ labels, value: state.sum, metricName: `${this.name}_sum` });
      out.push({ labels, value: state.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: out };
  }

  register(registry: Registry, hold: FirstIncrementHold = NO_HOLD): this {
    this.hold = hold;
    registry.registerMetric(this as never);
    return this;
  }
}
