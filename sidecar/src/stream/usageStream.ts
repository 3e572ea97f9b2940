import { type RunningTotal, type TotalKind, type UsageDelta, zeroTotal } from '../ledger/usageTotals.js';

export interface UsageStreamOptions {
  /** Events kept for replay to a reconnecting client (the newest N). */
  bufferSize: number;
  /** Concurrent subscribers at most; `subscribe` refuses beyond. */
  maxStreams: number;
}

/** A subscriber's filter: one running-total key, or every event. */
export type StreamFilter = { kind: TotalKind; key: string } | null;

/** Reads the ledger's committed totals of some keys of one kind (absent keys: nothing counted). */
export type TotalsReader = (kind: TotalKind, keys: string[]) => Promise<Map<string, RunningTotal>>;

export interface StreamSubscriber {
  filter: StreamFilter;
  /**
   * A committed batch's events that match the filter (at least one, in id order), with the filter
   * key's total as the ledger had it right after the commit (its own copy; null without a filter).
   */
  deliver(events: readonly UsageDelta[], committedAtMs: number, totalAfter: RunningTotal | null): void;
  /**
   * Events it should have had were not kept (it connected during a backlog batch): it restarts from
   * `totalNow`, the ledger's total after the commit (null without a filter).
   */
  reset(totalNow: RunningTotal | null): void;
  /** The ledger could not be read for its total: it must end (the client resumes by id). */
  fail(): void;
}

export type ReplayResult =
  | { ok: true; events: UsageDelta[] }
  | { ok: false; reason: 'too_old' | 'unknown_id' };

export function matches(filter: StreamFilter, d: UsageDelta): boolean {
  return filter === null || d[filter.kind] === filter.key;
}

/**
 * This sidecar's committed usage events, in id order: the ingest loop publishes each batch's deltas
 * right after its commit; subscribers (live streams) receive them with their filter key's total read
 * from the ledger after the commit (on a shared ledger, the fleet's total: other sidecars add to it
 * too); the newest `bufferSize` stay for replay. Ids are consecutive (one per record this sidecar
 * counted) and continue its committed sequence across restarts; the buffer is memory only, so after a
 * restart it starts empty at the committed sequence.
 *
 * `exclusive` runs a reader (a stream connecting: its total, its snapshot or replay, its
 * subscription) as one piece against commits: the ingest loop runs each commit and its `publish` in
 * `exclusive` too, so a total read there covers exactly this sidecar's events up to `lastEventId`.
 */
export class UsageStream {
  private buffer: UsageDelta[] = [];
  private readonly subscribers = new Set<StreamSubscriber>();
  /** Id of the last event published (or the committed sequence at start). */
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    committedSeq: number,
    readonly options: UsageStreamOptions,
    private readonly readTotals: TotalsReader,
  ) {
    this.last = committedSeq;
  }

  get lastEventId(): number {
    return this.last;
  }

  get streams(): number {
    return this.subscribers.size;
  }

  /** Events with an id above this one can be replayed (those at or below are gone). */
  get replayFloor(): number {
    const first = this.buffer[0];
    return first === undefined ? this.last : first.id - 1;
  }

  /** Runs `fn` when no other `exclusive` piece runs (in call order). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Deltas a batch must keep: all while someone listens, else the replay buffer's worth. */
  keepDeltas(): number {
    return this.subscribers.size > 0 ? Number.POSITIVE_INFINITY : this.options.bufferSize;
  }

  /**
   * Publishes a committed batch's events: `deltas` are its newest, `dropped` events before them were
   * not kept (the batch was counted while nobody listened; see `keepDeltas`). Call right after the
   * commit, inside the same `exclusive` piece. Never rejects: a subscriber whose total cannot be read
   * is failed.
   */
  async publish(deltas: readonly UsageDelta[], dropped = 0): Promise<void> {
    const committedAtMs = Date.now();
    const cap = this.options.bufferSize;
    // The buffer holds consecutive ids: after a gap it restarts at the first kept event.
    if (dropped > 0) this.buffer = [];
    if (deltas.length >= cap) this.buffer = deltas.slice(deltas.length - cap);
    else {
      const drop = this.buffer.length + deltas.length - cap;
      if (drop > 0) this.buffer.splice(0, drop);
      for (const d of deltas) this.buffer.push(d);
    }
    const lastDelta = deltas[deltas.length - 1];
    this.last = lastDelta === undefined ? this.last + dropped : lastDelta.id;
    if (this.subscribers.size === 0) return;

    // Who gets what: the matching events, or (a subscriber that connected while this batch was
    // counted unheard) a reset from the ledger.
    const plan: { s: StreamSubscriber; events: readonly UsageDelta[] | null }[] = [];
    const wanted = new Map<TotalKind, Set<string>>();
    for (const s of this.subscribers) {
      let events: readonly UsageDelta[] | null = null;
      if (dropped === 0) {
        events = s.filter === null ? deltas : deltas.filter((d) => matches(s.filter, d));
        if (events.length === 0) continue;
      }
      plan.push({ s, events });
      if (s.filter !== null) {
        let keys = wanted.get(s.filter.kind);
        if (keys === undefined) {
          keys = new Set();
          wanted.set(s.filter.kind, keys);
        }
        keys.add(s.filter.key);
      }
    }
    // The totals after the commit, read from the ledger: on a shared ledger they include what the
    // other sidecars committed, which this sidecar's deltas alone would miss.
    let totals: Map<string, RunningTotal> | null = new Map();
    try {
      for (const [kind, keys] of wanted)
        for (const [key, t] of await this.readTotals(kind, [...keys])) totals.set(`${kind}\u0000${key}`, t);
    } catch {
      totals = null;
    }
    for (const { s, events } of plan) {
      if (!this.subscribers.has(s)) continue; // it closed meanwhile
      let total: RunningTotal | null = null;
      if (s.filter !== null) {
        if (totals === null) {
          s.fail();
          continue;
        }
        const t = totals.get(`${s.filter.kind}\u0000${s.filter.key}`);
        total = t === undefined ? zeroTotal(s.filter.kind, s.filter.key) : { ...t };
      }
      if (events === null) s.reset(total);
      else s.deliver(events, committedAtMs, total);
    }
  }

  /** The events after `afterId` (all of them, in order), or why they cannot be replayed. */
  replay(afterId: number): ReplayResult {
    if (afterId > this.last) return { ok: false, reason: 'unknown_id' };
    if (afterId < this.replayFloor) return { ok: false, reason: 'too_old' };
    const first = this.buffer[0];
    if (first === undefined) return { ok: true, events: [] };
    return { ok: true, events: this.buffer.slice(afterId - first.id + 1) };
  }

  /** Adds a subscriber; false when `maxStreams` are open already. */
  subscribe(s: StreamSubscriber): boolean {
    if (this.subscribers.size >= this.options.maxStreams) return false;
    this.subscribers.add(s);
    return true;
  }

  unsubscribe(s: StreamSubscriber): void {
    this.subscribers.delete(s);
  }
}
