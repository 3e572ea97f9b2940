import type { Request, Response, Router } from 'express';
import type { LedgerStore } from '../ledger/store.js';
import {
  type RunningTotal,
  readRunningTotal,
  readRunningTotals,
  rowToTotal,
  TOTAL_KINDS,
  type TotalKind,
  type UsageDelta,
  zeroTotal,
} from '../ledger/usageTotals.js';
import { capValueLength } from '../pipeline/valueLength.js';
import { usdDecimal } from '../report/money.js';
import {
  matches,
  type StreamFilter,
  type StreamSubscriber,
  type UsageStream,
} from '../stream/usageStream.js';
import { parseRange, plainText, readQuery } from './usageParams.js';

export interface StreamApiOptions {
  /** A comment line is sent this often so proxies and clients see the stream is alive. */
  heartbeatMs: number;
  /** A client this far behind (bytes queued on its socket) is disconnected; it resumes by id. */
  maxQueuedBytes?: number;
  /** The bytes queued for all clients together (see StreamQueues); a client's own limit shrinks to fit. */
  queues?: StreamQueues;
  /** How long a disconnected client's queued bytes may wait to be read before its socket is cut. */
  drainMs?: number;
}

/** Default bytes queued for all `/stream` clients together (64 streams of 4 MB would be 256 MB). */
export const STREAM_QUEUED_TOTAL_BYTES = 32 * 1024 * 1024;
/** A client may always queue this much (or its own limit if lower), however full the total is. */
export const MIN_QUEUE_SHARE = 64 * 1024;

/**
 * The bytes queued in the sidecar's memory for one endpoint's clients, open or ended and draining,
 * kept to about `totalBytes`: a client may queue its own limit only while the others leave that much
 * of the total, and never less than MIN_QUEUE_SHARE (so a client reading normally is not cut off on
 * a burst while slow ones hold the rest). Without it, `--max-streams` clients that stop reading could
 * each hold the per-client limit. At most `totalBytes` + streams × MIN_QUEUE_SHARE, plus one event each.
 */
export class StreamQueues {
  private readonly held = new Set<Response>();
  constructor(readonly totalBytes: number) {}

  /** Counts `res`'s queue until its connection closes. */
  track(res: Response): void {
    this.held.add(res);
    res.once('close', () => this.held.delete(res));
  }

  /** The bytes queued for every tracked client. */
  queuedBytes(): number {
    let n = 0;
    for (const r of this.held) n += r.writableLength;
    return n;
  }

  /** How many bytes `res` may have queued now, given its own limit. */
  allowance(res: Response, ownLimit: number): number {
    const others = this.queuedBytes() - (this.held.has(res) ? res.writableLength : 0);
    return Math.max(Math.min(MIN_QUEUE_SHARE, ownLimit), Math.min(ownLimit, this.totalBytes - others));
  }
}

/** Default time a stream ended while its client was behind may take to drain (4 MB at 1 Mbit/s). */
export const STREAM_DRAIN_MS = 60_000;

/**
 * Streams that ended while their client was behind: `res.end()` keeps the bytes the kernel would not
 * take yet in the sidecar's memory until the client reads them, which a client that never reads
 * never does. Such a stream keeps counting against the stream cap until they are sent (so clients
 * that never read cannot pile up ended streams without bound), and one not sent within `drainMs` is
 * cut off.
 */
export class DrainingStreams {
  count = 0;
  constructor(private readonly drainMs: number) {}

  end(res: Response): void {
    res.end();
    if (res.writableFinished || res.destroyed) return;
    this.count++;
    const cut = setTimeout(() => res.destroy(), this.drainMs);
    cut.unref();
    res.once('close', () => {
      clearTimeout(cut);
      this.count--;
    });
  }
}

/** The counters of a running total (or of a change between two), money exact. */
export type TotalCounts = Pick<
  RunningTotal,
  | 'requests'
  | 'errors'
  | 'unpricedRequests'
  | 'unpricedTokens'
  | 'usageUnknownRequests'
  | 'input'
  | 'cacheRead'
  | 'cacheWrite'
  | 'output'
  | 'reasoning'
  | 'exactCostNano'
  | 'estimatedCostNano'
>;

/** Counters as JSON (money as exact decimal USD strings, like the usage API). */
export function countsToJson(c: TotalCounts) {
  return {
    requests: c.requests,
    errors: c.errors,
    cost_usd: usdDecimal(c.exactCostNano + c.estimatedCostNano),
    exact_cost_usd: usdDecimal(c.exactCostNano),
    estimated_cost_usd: usdDecimal(c.estimatedCostNano),
    unpriced_requests: c.unpricedRequests,
    unpriced_tokens: c.unpricedTokens,
    unknown_usage_requests: c.usageUnknownRequests,
    tokens: tokensToJson(c),
  };
}

/** Tokens by type as JSON. */
function tokensToJson(c: Pick<TotalCounts, 'input' | 'cacheRead' | 'cacheWrite' | 'output' | 'reasoning'>) {
  return {
    input: c.input,
    cache_read: c.cacheRead,
    cache_write: c.cacheWrite,
    output: c.output,
    reasoning: c.reasoning,
  };
}

/** A running total as JSON: its key, its counters, and whether every call in it had a price. */
export function runningTotalToJson(t: RunningTotal) {
  return { kind: t.kind, key: t.key, ...countsToJson(t), cost_complete: t.unpricedRequests === 0 };
}

function deltaTokens(d: UsageDelta): number {
  return d.input + d.cacheRead + d.cacheWrite + d.output + d.reasoning;
}

/** Adds (sign 1) or removes (sign -1) one delta from a running total, exactly. */
function applyDelta(t: RunningTotal, d: UsageDelta, sign: 1 | -1): void {
  t.requests += sign;
  if (d.status === 'error') t.errors += sign;
  if (d.costNano === null) {
    t.unpricedRequests += sign;
    t.unpricedTokens += sign * deltaTokens(d);
  } else if (d.usageType === 'exact') t.exactCostNano += BigInt(sign * d.costNano);
  else t.estimatedCostNano += BigInt(sign * d.costNano);
  if (d.usageType === 'unknown') t.usageUnknownRequests += sign;
  t.input += sign * d.input;
  t.cacheRead += sign * d.cacheRead;
  t.cacheWrite += sign * d.cacheWrite;
  t.output += sign * d.output;
  t.reasoning += sign * d.reasoning;
}

function deltaToJson(d: UsageDelta, committedAtMs: number, sidecar: string) {
  return {
    id: d.id,
    sidecar,
    at: new Date(d.atMs).toISOString(),
    committed_at: new Date(committedAtMs).toISOString(),
    session: d.session,
    user: d.user,
    tenant: d.tenant,
    feature: d.feature,
    service: d.service,
    provider: d.provider,
    model: d.model,
    usage_type: d.usageType,
    status: d.status,
    error_type: d.errorType,
    delta: {
      requests: 1,
      cost_usd: d.costNano === null ? null : usdDecimal(d.costNano),
      priced: d.costNano !== null,
      tokens: tokensToJson(d),
    },
  };
}

export const FILTER_PARAMS = TOTAL_KINDS;

/** The one filter of a stream request (`?session=…` or `user`, `tenant`, `feature`, `service`). */
export function readFilter(
  q: Record<string, string>,
): { ok: true; filter: StreamFilter } | { ok: false; reason: string } {
  const given = FILTER_PARAMS.filter((k) => q[k] !== undefined);
  if (given.length > 1)
    return {
      ok: false,
      reason: `give at most one filter (${FILTER_PARAMS.join(', ')}); got ${given.join(', ')}`,
    };
  const kind = given[0];
  if (kind === undefined) return { ok: true, filter: null };
  const key = q[kind] as string;
  // Calls without the attribute have no running total to follow.
  if (key === '') return { ok: false, reason: `"${kind}" must not be empty` };
  // Keys are kept cut to MAX_VALUE_LENGTH: the whole name follows its cut form.
  return { ok: true, filter: { kind, key: capValueLength(key) } };
}

/** A stream request's filter and resume id (`Last-Event-ID`, else `last_event_id`), or why not. */
export function readStreamRequest(
  req: Request,
): { ok: true; filter: StreamFilter; resumeText: string | undefined } | { ok: false; reason: string } {
  const q = readQuery(req, [...FILTER_PARAMS, 'last_event_id']);
  if (!q.ok) return q;
  const f = readFilter(q.value);
  if (!f.ok) return f;
  return { ok: true, filter: f.filter, resumeText: req.get('last-event-id') ?? q.value.last_event_id };
}

/** `503` past the stream cap. */
export function refuseTooMany(res: Response, max: number): void {
  res
    .status(503)
    .set('Retry-After', '5')
    .json({ error: 'too_many_streams', message: `at most ${max} streams are served at once` });
}

const EVENT_STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};

/**
 * A HEAD request (which Express routes to the GET handler) gets the stream's headers and ends: a
 * HEAD answer has no body, so an opened stream would show the client nothing, ever, while holding
 * a stream slot.
 */
export function answerHead(req: Request, res: Response): boolean {
  if (req.method !== 'HEAD') return false;
  res.writeHead(200, EVENT_STREAM_HEADERS).end();
  return true;
}

/** Starts a Server-Sent Events response (no proxy buffering), with the reconnect delay. */
export function openEventStream(res: Response): void {
  res.writeHead(200, { ...EVENT_STREAM_HEADERS, Connection: 'keep-alive' });
  res.write('retry: 2000\n\n');
}

/**
 * `GET /stream`: Server-Sent Events of the usage this sidecar commits (see docs/api.md). Reading the
 * current total, the snapshot or replay and the subscription run as one `exclusive` piece, which
 * commits and their publishing also are: the total covers exactly this sidecar's events up to the
 * snapshot's id (plus, on a shared ledger, whatever other sidecars had committed), and the live
 * events follow with no gap or repeat.
 */
export function streamHandler(db: LedgerStore, stream: UsageStream, options: StreamApiOptions) {
  const maxQueued = options.maxQueuedBytes ?? 4 * 1024 * 1024;
  const queues = options.queues ?? new StreamQueues(STREAM_QUEUED_TOTAL_BYTES);
  const draining = new DrainingStreams(options.drainMs ?? STREAM_DRAIN_MS);
  const sidecar = db.sidecarId;
  return async (req: Request, res: Response): Promise<void> => {
    const r = readStreamRequest(req);
    if (!r.ok) {
      res.status(400).json({ error: 'bad_request', message: r.reason });
      return;
    }
    if (answerHead(req, res)) return;
    const { filter, resumeText } = r;
    await stream.exclusive(async () => {
      if (stream.streams + draining.count >= stream.options.maxStreams) {
        refuseTooMany(res, stream.options.maxStreams);
        return;
      }
      let total: RunningTotal | null =
        filter === null
          ? null
          : ((await readRunningTotal(db, filter.kind, filter.key)) ?? zeroTotal(filter.kind, filter.key));
      // The client went away while the total was read.
      if (req.socket.destroyed) return;
      openEventStream(res);
      queues.track(res);
      const send = (event: string, id: number, data: unknown) => {
        res.write(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const sendUsage = (d: UsageDelta, committedAtMs: number) => {
        if (total !== null) applyDelta(total, d, 1);
        send('usage', d.id, {
          ...deltaToJson(d, committedAtMs, sidecar),
          total: total === null ? null : runningTotalToJson(total),
        });
      };
      /** Sends events; `after` is the filter key's total after the last of them (null: no filter). */
      const sendEvents = (
        events: readonly UsageDelta[],
        after: RunningTotal | null,
        committedAtMs: number,
      ) => {
        // The total as it stood before these events: the total after them less their deltas.
        if (after !== null) for (const d of events) applyDelta(after, d, -1);
        total = after;
        // What the other clients' queues leave (they do not move while this runs).
        const limit = queues.allowance(res, maxQueued);
        for (const d of events) {
          // A client this far behind is let go (it resumes by id): neither a replay of the whole
          // buffer nor a big batch queues more than about its limit for it.
          if (res.writableLength > limit) {
            close();
            return;
          }
          sendUsage(d, committedAtMs);
        }
      };
      const state = (reason?: string) => ({
        ...(reason === undefined ? {} : { reason }),
        last_event_id: stream.lastEventId,
        sidecar,
        filter: filter === null ? null : { [filter.kind]: filter.key },
        total: total === null ? null : runningTotalToJson(total),
      });
      const subscriber: StreamSubscriber = {
        filter,
        deliver(events, committedAtMs, totalAfter) {
          sendEvents(events, totalAfter, committedAtMs);
        },
        reset(totalNow) {
          total = totalNow;
          send('reset', stream.lastEventId, state('backlog'));
        },
        fail() {
          close();
        },
      };
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), options.heartbeatMs);
      heartbeat.unref();
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        stream.unsubscribe(subscriber);
        draining.end(res);
      };
      let resumeFrom: number | undefined;
      if (resumeText !== undefined) {
        resumeFrom = /^\d{1,15}$/.test(resumeText) ? Number(resumeText) : Number.NaN;
      }
      if (resumeFrom === undefined) send('snapshot', stream.lastEventId, state());
      else {
        const replay = Number.isNaN(resumeFrom)
          ? ({ ok: false, reason: 'unknown_id' } as const)
          : stream.replay(resumeFrom);
        if (!replay.ok) send('reset', stream.lastEventId, state(replay.reason));
        else
          sendEvents(
            replay.events.filter((d) => matches(filter, d)),
            total,
            Date.now(),
          );
      }
      // A replay that filled the client's queue ended the stream: it resumes from its last id.
      if (closed) return;
      stream.subscribe(subscriber);
      req.on('close', close);
      res.on('error', close);
    });
  };
}

/** `GET /usage/sessions/:id`: one session's running total, as of this sidecar's last committed event. */
export function sessionHandler(db: LedgerStore, stream: UsageStream) {
  return async (req: Request, res: Response): Promise<void> => {
    const q = readQuery(req, []);
    if (!q.ok) {
      res.status(400).json({ error: 'bad_request', message: q.reason });
      return;
    }
    const id = plainText('the session id', String(req.params.id));
    if (!id.ok) {
      res.status(400).json({ error: 'bad_request', message: id.reason });
      return;
    }
    const [t, asOf] = await stream.exclusive(
      async () =>
        [await readRunningTotal(db, 'session', capValueLength(id.value)), stream.lastEventId] as const,
    );
    if (t === undefined) {
      res
        .status(404)
        .json({ error: 'not_found', message: `no usage counted for session ${JSON.stringify(id.value)}` });
      return;
    }
    res.json(totalWithTimes(t, asOf));
  };
}

function totalWithTimes(t: RunningTotal, asOf: number) {
  return {
    ...runningTotalToJson(t),
    as_of_event_id: asOf,
    first_seen: new Date(t.firstSeenMs).toISOString(),
    last_seen: new Date(t.lastSeenMs).toISOString(),
    last_delta:
      t.lastEventId === null
        ? null
        : {
            event_id: t.lastEventId,
            model: t.lastModel,
            tokens: t.lastTokens,
            cost_usd: t.lastCostNano === null ? null : usdDecimal(t.lastCostNano),
          },
  };
}

/**
 * `GET /usage/sessions`: sessions active in [from, to) (first seen before `to`, last seen at or
 * after `from`) with their running totals, biggest cost first; `search` keeps ids containing it
 * (ASCII case-insensitive on both ledgers).
 */
export function sessionListHandler(db: LedgerStore, stream: UsageStream, now: () => number) {
  return async (req: Request, res: Response): Promise<void> => {
    const q = readQuery(req, ['from', 'to', 'search', 'limit']);
    if (!q.ok) {
      res.status(400).json({ error: 'bad_request', message: q.reason });
      return;
    }
    const range = parseRange(q.value, now());
    if (!range.ok) {
      res.status(400).json({ error: 'bad_request', message: range.reason });
      return;
    }
    const limitText = q.value.limit ?? '50';
    if (!/^[1-9]\d{0,3}$/.test(limitText)) {
      res.status(400).json({
        error: 'bad_request',
        message: `"limit" must be an integer 1..9999; got ${JSON.stringify(limitText)}`,
      });
      return;
    }
    const params = {
      from: range.value.fromSec * 1000,
      to: range.value.toSec * 1000,
      search: `%${(q.value.search ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
    };
    const where = `kind = 'session' AND last_seen_ms >= @from AND first_seen_ms < @to AND key ${db.dialect.like} @search ESCAPE '\\'`;
    const { rows, count, asOf } = await stream.exclusive(async () => ({
      rows: await db.all<Record<string, bigint | string | null>>(
        `SELECT * FROM usage_total WHERE ${where} ORDER BY exact_cost_nano_usd + estimated_cost_nano_usd DESC, key LIMIT ${Number(limitText)}`,
        params,
        { bigint: true },
      ),
      count: Number(await db.value<number>(`SELECT COUNT(*) FROM usage_total WHERE ${where}`, params)),
      asOf: stream.lastEventId,
    }));
    res.json({
      from: new Date(params.from).toISOString(),
      to: new Date(params.to).toISOString(),
      session_count: count,
      rows: rows.map((r) => totalWithTimes(rowToTotal(r), asOf)),
    });
  };
}

/** The stream's reader of the ledger's committed totals (see UsageStream). */
export function totalsReader(db: LedgerStore) {
  return (kind: TotalKind, keys: string[]) => readRunningTotals(db, kind, keys);
}

/** Mounts the stream and the session routes on the `/api` router. */
export function mountStreamApi(
  api: Router,
  db: LedgerStore,
  stream: UsageStream,
  now: () => number,
  options: StreamApiOptions,
): void {
  api.get('/stream', streamHandler(db, stream, options));
  api.get('/usage/sessions', sessionListHandler(db, stream, now));
  api.get('/usage/sessions/:id', sessionHandler(db, stream));
}
