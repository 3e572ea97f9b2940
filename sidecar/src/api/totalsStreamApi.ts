import type { Request, Response, Router } from 'express';
import type { LedgerStore } from '../ledger/store.js';
import { type RunningTotal, readRunningTotals, type TotalKind, zeroTotal } from '../ledger/usageTotals.js';
import {
  answerHead,
  countsToJson,
  DrainingStreams,
  FILTER_PARAMS,
  openEventStream,
  readStreamRequest,
  refuseTooMany,
  runningTotalToJson,
  STREAM_DRAIN_MS,
  StreamQueues,
  type TotalCounts,
} from './streamApi.js';

/** How often the ledger's totals of the followed keys are read. */
export const TOTALS_POLL_MS = 250;

/** The counters of a running total, in cursor order (costs last, as exact integers). */
const COUNTS = [
  'requests',
  'errors',
  'unpricedRequests',
  'unpricedTokens',
  'usageUnknownRequests',
  'input',
  'cacheRead',
  'cacheWrite',
  'output',
  'reasoning',
] as const;

const CURSOR = /^v1((?:\.\d{1,30}){12})$/;

/**
 * A total as an event id: every counter and both exact costs, so a client's last id says exactly what
 * it has applied, on any sidecar of the ledger and across restarts.
 */
export function totalCursor(t: TotalCounts): string {
  return `v1.${[...COUNTS.map((c) => t[c]), t.exactCostNano, t.estimatedCostNano].join('.')}`;
}

/** The counters of a cursor, or null when it is not one (or a counter is out of range). */
export function parseTotalCursor(text: string): TotalCounts | null {
  const m = CURSOR.exec(text);
  if (m === null) return null;
  const parts = (m[1] as string).slice(1).split('.');
  const out: Record<string, number | bigint> = {};
  for (let i = 0; i < COUNTS.length; i++) {
    const n = Number(parts[i]);
    if (!Number.isSafeInteger(n)) return null;
    out[COUNTS[i] as string] = n;
  }
  out.exactCostNano = BigInt(parts[10] as string);
  out.estimatedCostNano = BigInt(parts[11] as string);
  return out as unknown as TotalCounts;
}

/** `now − before`, or null when any counter went down (the key's row was pruned, or another ledger). */
function deltaOf(now: TotalCounts, before: TotalCounts): TotalCounts | null {
  const d: Record<string, number | bigint> = {};
  for (const c of COUNTS) {
    const v = now[c] - before[c];
    if (v < 0) return null;
    d[c] = v;
  }
  d.exactCostNano = now.exactCostNano - before.exactCostNano;
  d.estimatedCostNano = now.estimatedCostNano - before.estimatedCostNano;
  if (d.exactCostNano < 0n || d.estimatedCostNano < 0n) return null;
  return d as unknown as TotalCounts;
}

const isZero = (d: TotalCounts): boolean =>
  COUNTS.every((c) => d[c] === 0) && d.exactCostNano === 0n && d.estimatedCostNano === 0n;

interface Follower {
  kind: TotalKind;
  key: string;
  /** Called with the key's total after every poll. */
  update(t: RunningTotal): void;
  /** The ledger could not be read: the stream ends (the client resumes by id). */
  fail(): void;
}

/** Reads the followed keys' totals every `pollMs`, one query per kind, while anyone follows. */
class TotalsWatcher {
  private readonly followers = new Set<Follower>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  constructor(
    private readonly db: LedgerStore,
    private readonly pollMs: number,
  ) {}

  get size(): number {
    return this.followers.size;
  }

  add(f: Follower): void {
    this.followers.add(f);
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
  }

  remove(f: Follower): void {
    this.followers.delete(f);
    if (this.followers.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // a slow ledger: the next tick reads again
    this.polling = true;
    try {
      const keys = new Map<TotalKind, Set<string>>();
      for (const f of this.followers) {
        const set = keys.get(f.kind) ?? new Set<string>();
        keys.set(f.kind, set);
        set.add(f.key);
      }
      const totals = new Map<string, RunningTotal>();
      try {
        for (const [kind, set] of keys)
          for (const [key, t] of await readRunningTotals(this.db, kind, [...set]))
            totals.set(`${kind}\u0000${key}`, t);
      } catch {
        for (const f of [...this.followers]) f.fail();
        return;
      }
      for (const f of [...this.followers]) {
        if (!this.followers.has(f)) continue;
        f.update(totals.get(`${f.kind}\u0000${f.key}`) ?? zeroTotal(f.kind, f.key));
      }
    } finally {
      this.polling = false;
    }
  }
}

/** A client of `/stream/totals` this far behind is let go (it resumes by id and loses nothing). */
const TOTALS_QUEUED_BYTES = 1024 * 1024;
/** Bytes queued for all its clients together (see StreamQueues). */
const TOTALS_QUEUED_TOTAL_BYTES = 8 * 1024 * 1024;

export interface TotalsStreamOptions {
  heartbeatMs: number;
  maxStreams: number;
  pollMs?: number;
}

/**
 * `GET /stream/totals`: Server-Sent Events of one key's running total as the ledger has it — on a
 * PostgreSQL ledger the whole fleet's, whichever sidecar counted the calls — one `total` event per
 * change with the delta since the previous event (docs/api.md). The event id is the total itself, so
 * a client resuming with `Last-Event-ID` gets exactly what it has not applied, on any sidecar.
 */
export function totalsStreamHandler(db: LedgerStore, options: TotalsStreamOptions) {
  const watcher = new TotalsWatcher(db, options.pollMs ?? TOTALS_POLL_MS);
  const draining = new DrainingStreams(STREAM_DRAIN_MS);
  const queues = new StreamQueues(TOTALS_QUEUED_TOTAL_BYTES);
  let opening = 0;
  return async (req: Request, res: Response): Promise<void> => {
    const r = readStreamRequest(req);
    if (!r.ok || r.filter === null) {
      res.status(400).json({
        error: 'bad_request',
        message: r.ok ? `give one filter: ${FILTER_PARAMS.join(', ')}` : r.reason,
      });
      return;
    }
    if (answerHead(req, res)) return;
    const { kind, key } = r.filter;
    const resumeText = r.resumeText;
    // Connections still reading their first total count too, so a burst cannot pass the cap.
    if (watcher.size + opening + draining.count >= options.maxStreams) {
      refuseTooMany(res, options.maxStreams);
      return;
    }
    let now: RunningTotal;
    opening++;
    try {
      now = (await readRunningTotals(db, kind, [key])).get(key) ?? zeroTotal(kind, key);
    } finally {
      opening--;
    }
    if (req.socket.destroyed) return;
    openEventStream(res);
    queues.track(res);
    const send = (event: string, t: RunningTotal, delta: TotalCounts | null, reason?: string) => {
      const data = {
        ...(reason === undefined ? {} : { reason }),
        filter: { [kind]: key },
        delta: delta === null ? null : countsToJson(delta),
        total: runningTotalToJson(t),
        at: new Date().toISOString(),
      };
      res.write(`event: ${event}\nid: ${totalCursor(t)}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    let last: TotalCounts = now;
    if (resumeText === undefined) send('snapshot', now, null);
    else {
      const before = parseTotalCursor(resumeText);
      const d = before === null ? null : deltaOf(now, before);
      if (before === null || d === null)
        send('reset', now, null, before === null ? 'unknown_id' : 'total_went_down');
      else if (!isZero(d)) send('total', now, d);
    }
    let closed = false;
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), options.heartbeatMs);
    heartbeat.unref();
    const follower: Follower = {
      kind,
      key,
      update(t) {
        const d = deltaOf(t, last);
        if (d !== null && isZero(d)) return;
        // A client this far behind is let go; it resumes by id and loses nothing.
        if (res.writableLength > queues.allowance(res, TOTALS_QUEUED_BYTES)) return close();
        if (d === null) send('reset', t, null, 'total_went_down');
        else send('total', t, d);
        last = t;
      },
      fail: () => close(),
    };
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      watcher.remove(follower);
      draining.end(res);
    };
    watcher.add(follower);
    req.on('close', close);
    res.on('error', close);
  };
}

/** Mounts `GET /stream/totals` on the `/api` router. */
export function mountTotalsStreamApi(api: Router, db: LedgerStore, options: TotalsStreamOptions): void {
  api.get('/stream/totals', totalsStreamHandler(db, options));
}
