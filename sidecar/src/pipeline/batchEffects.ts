import type { PrincipalRollupKey, RollupKey } from '../ledger/rollups.js';
import {
  addMeasures,
  emptyMeasures,
  type Measures,
  principalRowArgs,
  type RowArg,
} from '../ledger/rollups.js';
import {
  addDelta,
  emptyTotalDelta,
  TOTAL_KINDS,
  type TotalDelta,
  type TotalKind,
  totalRowArgs,
  type UsageDelta,
} from '../ledger/usageTotals.js';
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
  /** Deltas are exact: a number while a safe integer, else a bigint (nano-USD past 2^53). */
  readonly counters = new Map<CounterName, Map<string, { values: string[]; delta: number | bigint }>>();
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
  /**
   * Counted records' deltas, in counting order (usage events once committed): all of them, or the
   * newest when `keepDeltas` bounds them (nobody is listening live: only the replay buffer's worth matters).
   */
  deltas: UsageDelta[] = [];
  /** Records counted into the batch (each gets an event id at commit, kept in `deltas` or not). */
  deltaCount = 0;
  /** Deltas kept at least (between this and twice this); Infinity keeps all. */
  keepDeltas = Number.POSITIVE_INFINITY;
  /** Batch sums of usage_total rows, per kind and key. */
  readonly totals: Record<TotalKind, Map<string, TotalDelta>> = {
    session: new Map(),
    user: new Map(),
    tenant: new Map(),
    feature: new Map(),
    service: new Map(),
  };
  /** latency_rollup rows: histogram bucket counts per (hour, provider, model, metric). */
  readonly latency = new Map<
    string,
    { bucketStart: number; provider: string; model: string; metric: string; counts: number[] }
  >();
  /** error_rollup rows: failed calls per (hour, provider, model, service, error type). */
  readonly errorRows = new Map<
    string,
    {
      bucketStart: number;
      provider: string;
      model: string;
      service: string;
      errorType: string;
      requests: number;
    }
  >();
  /** Counted records whose deltas were not kept (the first ones of the batch). */
  get droppedDeltas(): number {
    return this.deltaCount - this.deltas.length;
  }

  /** Id of the batch's first usage event (set at commit: the committed sequence + 1). */
  firstEventId = 0;

  constructor(private readonly metrics: SidecarMetrics) {}

  add(counter: CounterName, values: string[], delta: number | bigint): void {
    let m = this.counters.get(counter);
    if (m === undefined) {
      m = new Map();
      this.counters.set(counter, m);
    }
    const key = seriesKey(values);
    const s = m.get(key);
    if (s === undefined) m.set(key, { values, delta });
    else if (
      typeof s.delta === 'number' &&
      typeof delta === 'number' &&
      Number.isSafeInteger(s.delta + delta)
    )
      s.delta += delta;
    else s.delta = BigInt(s.delta) + BigInt(delta);
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
   * Every principal row of the batch as usage_rollup_principal's positional arguments (one array,
   * refilled for each row: bind it before taking the next).
   */
  *principalRowArgs(): Generator<RowArg[]> {
    const args: RowArg[] = [];
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
          yield principalRowArgs(key, m, args);
        }
      }
    }
  }

  /** Adds a counted record's delta: to the batch's events and to each of its running totals. */
  addUsageDelta(d: UsageDelta): void {
    const index = this.deltaCount++;
    if (this.deltas.length >= 2 * this.keepDeltas)
      this.deltas = this.deltas.slice(this.deltas.length - this.keepDeltas);
    this.deltas.push(d);
    this.addTotal('session', d.session, d, index);
    this.addTotal('user', d.user, d, index);
    this.addTotal('tenant', d.tenant, d, index);
    this.addTotal('feature', d.feature, d, index);
    this.addTotal('service', d.service, d, index);
  }

  private addTotal(kind: TotalKind, key: string, d: UsageDelta, index: number): void {
    if (key === '') return;
    const rows = this.totals[kind];
    let t = rows.get(key);
    if (t === undefined) {
      t = emptyTotalDelta();
      rows.set(key, t);
    }
    addDelta(t, d, index);
  }

  /** Adds histogram bucket counts (non-cumulative, `counts[i]` for bucket i) to a latency_rollup row. */
  addLatency(bucketStart: number, provider: string, model: string, metric: string, counts: number[]): void {
    const k = `${bucketStart}\u0001${provider}\u0001${model}\u0001${metric}`;
    const row = this.latency.get(k);
    if (row === undefined) this.latency.set(k, { bucketStart, provider, model, metric, counts: [...counts] });
    else for (let i = 0; i < counts.length; i++) row.counts[i] = (row.counts[i] ?? 0) + (counts[i] as number);
  }

  addError(bucketStart: number, provider: string, model: string, service: string, errorType: string): void {
    const k = `${bucketStart}\u0001${provider}\u0001${model}\u0001${service}\u0001${errorType}`;
    const row = this.errorRows.get(k);
    if (row === undefined)
      this.errorRows.set(k, { bucketStart, provider, model, service, errorType, requests: 1 });
    else row.requests++;
  }

  /** Every usage_total row of the batch (one array, refilled for each row: bind it before the next). */
  *totalRowArgs(): Generator<(string | number | null)[]> {
    const args: (string | number | null)[] = [];
    for (const kind of TOTAL_KINDS)
      for (const [key, t] of this.totals[kind])
        yield totalRowArgs(kind, key, t, this.firstEventId + t.lastIndex, args);
  }

  /** Ledger rows this batch will write (bounds the commit's duration). */
  get pendingRows(): number {
    return this.groups.size + this.principalRows + this.totals.session.size;
  }
}
