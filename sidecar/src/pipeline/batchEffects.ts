import type { PrincipalRollupKey, RollupKey } from '../ledger/rollups.js';
import { addMeasures, emptyMeasures, type Measures, principalRowArgs } from '../ledger/rollups.js';
import type { CounterName, HistogramName, SidecarMetrics } from '../metrics.js';
import type { HistogramState } from './committedMetrics.js';
import { seriesKey } from './committedMetrics.js';

/**
 * Counted usage sharing every dimension a metric or rollup needs (raw values, before label caps):
 * records are summed into their group as they are counted, and `settleGroups` expands the groups into
 * counter series, histogram series and rollup rows once per batch, so the per-record work is one map
 * lookup. `model` is the label model: request model, else response model.
 */
export interface UsageGroup extends Omit<RollupKey, 'bucketSeconds'> {
  status: string;
  measures: Measures;
  /** This group's principal rows (shared by groups with the same principal dimensions). */
  principals: PrincipalSlot;
  duration: HistogramState | null;
  ttft: HistogramState | null;
}

/** The per-user and per-task rows of one (bucket, provider, model, service, feature, usage type). */
export interface PrincipalSlot
  extends Omit<PrincipalRollupKey, 'bucketSeconds' | 'principalKind' | 'principalId'> {
  users: Map<string, Measures>;
  tasks: Map<string, Measures>;
}

/**
 * Everything one batch changes, gathered before the ledger transaction and applied to the registry
 * only after it commits (the registry never shows an uncommitted batch).
 */
export class BatchEffects {
  readonly counters = new Map<CounterName, Map<string, { values: string[]; delta: number }>>();
  readonly histograms = new Map<HistogramName, Map<string, { values: string[]; state: HistogramState }>>();
  readonly groups = new Map<string, UsageGroup>();
  readonly rollups = new Map<string, { key: RollupKey; measures: Measures }>();
  /** Principal rows by their dimensions other than the principal (see `principalSlot`). */
  readonly principalSlots = new Map<string, PrincipalSlot>();
  /** Principal rows in the batch. */
  principalRows = 0;
  admittedLabels: [string, string][] = [];
  lastRecordMs = 0;
  /** Records decoded into this batch (any result): bounds the batch's size. */
  records = 0;

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
    const state = this.metrics.histograms[histogram].emptyState();
    this.metrics.histograms[histogram].observeInto(state, value);
    this.mergeHistogram(histogram, values, state);
  }

  mergeHistogram(histogram: HistogramName, values: string[], delta: HistogramState): void {
    let m = this.histograms.get(histogram);
    if (m === undefined) {
      m = new Map();
      this.histograms.set(histogram, m);
    }
    const key = seriesKey(values);
    const s = m.get(key);
    if (s === undefined) {
      m.set(key, { values, state: { counts: [...delta.counts], sum: delta.sum, count: delta.count } });
      return;
    }
    for (let i = 0; i < delta.counts.length; i++)
      s.state.counts[i] = (s.state.counts[i] ?? 0) + (delta.counts[i] as number);
    s.state.sum += delta.sum;
    s.state.count += delta.count;
  }

  rollup(key: RollupKey, measures: Measures): void {
    const k = `${key.bucketStart}\u0001${key.provider}\u0001${key.model}\u0001${key.service}\u0001${key.operation}\u0001${key.feature}\u0001${key.tenantId}\u0001${key.usageType}\u0001${key.agent ?? ''}\u0001${key.executionPath ?? ''}\u0001${key.source ?? ''}`;
    const r = this.rollups.get(k);
    if (r === undefined) this.rollups.set(k, { key, measures: { ...measures } });
    else addMeasures(r.measures, measures);
  }

  /** The principal rows of a group's dimensions (created empty on first use). */
  principalSlot(g: Omit<PrincipalSlot, 'users' | 'tasks'>): PrincipalSlot {
    const k = `${g.bucketStart}\u0001${g.provider}\u0001${g.model}\u0001${g.service}\u0001${g.feature}\u0001${g.usageType}`;
    let slot = this.principalSlots.get(k);
    if (slot === undefined) {
      slot = {
        bucketStart: g.bucketStart,
        provider: g.provider,
        model: g.model,
        service: g.service,
        feature: g.feature,
        usageType: g.usageType,
        users: new Map(),
        tasks: new Map(),
      };
      this.principalSlots.set(k, slot);
    }
    return slot;
  }

  /** The measures of one principal's row (created empty on first use). */
  principal(rows: Map<string, Measures>, id: string): Measures {
    let m = rows.get(id);
    if (m === undefined) {
      m = emptyMeasures();
      rows.set(id, m);
      this.principalRows++;
    }
    return m;
  }

  /**
   * Hands every principal row of the batch to `run` as usage_rollup_principal's positional arguments
   * (one array, refilled for each row).
   */
  forEachPrincipalRow(run: (args: (string | number)[]) => void): void {
    const args: (string | number)[] = [];
    for (const slot of this.principalSlots.values()) {
      const key: PrincipalRollupKey = {
        bucketStart: slot.bucketStart,
        bucketSeconds: 3600,
        provider: slot.provider,
        model: slot.model,
        service: slot.service,
        feature: slot.feature,
        usageType: slot.usageType,
        principalKind: 'user',
        principalId: '',
      };
      for (const [kind, byId] of [
        ['user', slot.users],
        ['task', slot.tasks],
      ] as const) {
        key.principalKind = kind;
        for (const [id, m] of byId) {
          key.principalId = id;
          run(principalRowArgs(key, m, args));
        }
      }
    }
  }

  /** Ledger rows this batch will write (bounds the commit's duration). */
  get pendingRows(): number {
    return this.groups.size + this.principalRows;
  }
}
