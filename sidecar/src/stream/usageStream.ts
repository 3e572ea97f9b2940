import type { TotalKind, UsageDelta } from '../ledger/usageTotals.js';

export interface UsageStreamOptions {
  /** Events kept for replay to a reconnecting client (the newest N). */
  bufferSize: number;
  /** Concurrent subscribers at most; `subscribe` refuses beyond. */
  maxStreams: number;
}

/** A subscriber's filter: one running-total key, or every event. */
export type StreamFilter = { kind: TotalKind; key: string } | null;

export interface StreamSubscriber {
  filter: StreamFilter;
  /** Called synchronously with each committed event that matches the filter, in id order. */
  deliver(event: UsageDelta, committedAtMs: number): void;
  /** Called when events it should have had were not kept (it connected during a backlog batch). */
  reset(): void;
}

export type ReplayResult =
  | { ok: true; events: UsageDelta[] }
  | { ok: false; reason: 'too_old' | 'unknown_id' };

export function matches(filter: StreamFilter, d: UsageDelta): boolean {
  return filter === null || d[filter.kind] === filter.key;
}

/**
 * The committed usage events, in id order: the ingest loop publishes each batch's deltas right after
 * its commit; subscribers (live streams) receive them synchronously; the newest `bufferSize` stay for
 * replay. Ids are consecutive (one per counted record) and continue the ledger's sequence across
 * restarts; the buffer is memory only, so after a restart it starts empty at the committed sequence.
 */
export class UsageStream {
  private buffer: UsageDelta[] = [];
  private readonly subscribers = new Set<StreamSubscriber>();
  /** Id of the last event published (or the committed sequence at start). */
  private last: number;

  constructor(
    committedSeq: number,
    readonly options: UsageStreamOptions,
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

  /**
   * Publishes a committed batch's events: `deltas` are its newest, `dropped` events before them were
   * not kept (the batch was counted while nobody listened; see `keepDeltas`).
   */
  /** Deltas a batch must keep: all while someone listens, else the replay buffer's worth. */
  keepDeltas(): number {
    return this.subscribers.size > 0 ? Number.POSITIVE_INFINITY : this.options.bufferSize;
  }

  publish(deltas: readonly UsageDelta[], dropped = 0): void {
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
    for (const s of this.subscribers) {
      // A subscriber that connected while this batch was counted unheard: it restarts from the ledger.
      if (dropped > 0) s.reset();
      else for (const d of deltas) if (matches(s.filter, d)) s.deliver(d, committedAtMs);
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
