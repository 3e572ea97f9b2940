import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
import { type RunningSidecar, type SidecarConfig, startSidecar } from '../src/index.js';
import { MIGRATIONS } from '../src/ledger/migrations.js';
import { applyMigrations } from '../src/ledger/openLedger.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import { sqliteStore } from '../src/ledger/sqliteStore.js';
import type { LedgerKind } from '../src/ledger/store.js';
import { type UsageDelta, zeroTotal } from '../src/ledger/usageTotals.js';
import { DEFAULT_LABEL_CAPS } from '../src/pipeline/labelCaps.js';
import { usdDecimal } from '../src/report/money.js';
import { type StreamSubscriber, UsageStream } from '../src/stream/usageStream.js';
import { freshDatabaseUrl, LEDGER_BACKENDS } from './support/ledgerBackends.js';
import { addKnownTraffic } from './support/ledgerFixture.js';
import { runUntilCaughtUp } from './support/sidecarHarness.js';

/** A JSONL usage line for a model the catalog does not price: its emitter cost is the cost, exactly. */
interface Call {
  id: string;
  session: string;
  user: string;
  tenant?: string;
  feature?: string;
  input: number;
  output: number;
  cacheRead?: number;
  /** Nano-USD; undefined = unpriced. */
  costNano?: number;
  usageType?: 'exact' | 'estimated';
  error?: boolean;
  atMs: number;
}

function line(c: Call): string {
  return `${JSON.stringify({
    ts: new Date(c.atMs).toISOString(),
    id: c.id,
    provider: 'acme',
    model: 'acme-chat-1',
    service: 'checkout',
    session_id: c.session,
    user_id: c.user,
    tenant_id: c.tenant ?? 'tenant-a',
    feature: c.feature ?? 'assist',
    usage_type: c.usageType ?? 'exact',
    usage: { prompt_tokens: c.input, completion_tokens: c.output, cache_read_input_tokens: c.cacheRead ?? 0 },
    ...(c.costNano === undefined ? {} : { cost_usd: (c.costNano / 1e9).toFixed(9) }),
    ...(c.error ? { error_type: 'RateLimitError' } : {}),
  })}\n`;
}

/** Deterministic calls over `sessions` sessions of 4 users. */
/** The sidecar's clock in these tests: after every generated call (records from the future are rejected). */
const NOW_MS = Date.UTC(2026, 11, 1, 12);

function makeCalls(n: number, sessions: number, from = 0, startMs = Date.UTC(2026, 10, 30, 9)): Call[] {
  const out: Call[] = [];
  for (let i = from; i < from + n; i++) {
    const s = (i * 7) % sessions;
    out.push({
      id: `call-${i}`,
      session: `sess-${s}`,
      user: `user-${s % 4}`,
      input: 100 + ((i * 37) % 900),
      output: (i * 13) % 400,
      cacheRead: i % 3 === 0 ? 50 : 0,
      costNano: i % 11 === 5 ? undefined : 1000 + ((i * 7919) % 5_000_000),
      usageType: i % 5 === 0 ? 'estimated' : 'exact',
      error: i % 17 === 3,
      atMs: startMs + i * 1000,
    });
  }
  return out;
}

interface Expected {
  requests: number;
  errors: number;
  exact: bigint;
  estimated: bigint;
  unpriced: number;
  input: number;
  cacheRead: number;
  output: number;
  first: number;
  last: number;
}

function expectedBySession(calls: Call[]): Map<string, Expected> {
  const m = new Map<string, Expected>();
  for (const c of calls) {
    let e = m.get(c.session);
    if (e === undefined) {
      e = {
        requests: 0,
        errors: 0,
        exact: 0n,
        estimated: 0n,
        unpriced: 0,
        input: 0,
        cacheRead: 0,
        output: 0,
        first: Infinity,
        last: 0,
      };
      m.set(c.session, e);
    }
    e.requests++;
    if (c.error) e.errors++;
    if (c.costNano === undefined) e.unpriced++;
    else if ((c.usageType ?? 'exact') === 'exact') e.exact += BigInt(c.costNano);
    else e.estimated += BigInt(c.costNano);
    e.input += c.input - (c.cacheRead ?? 0);
    e.cacheRead += c.cacheRead ?? 0;
    e.output += c.output;
    e.first = Math.min(e.first, c.atMs);
    e.last = Math.max(e.last, c.atMs);
  }
  return m;
}

let dir: string | undefined;
const running: RunningSidecar[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A fresh PostgreSQL ledger URL for `kind` postgres; undefined (SQLite in the state dir) otherwise. */
const ledgerUrlFor = async (kind: LedgerKind) => (kind === 'postgres' ? await freshDatabaseUrl() : undefined);

describe.each(LEDGER_BACKENDS)('per-session ledger (%s)', (kind) => {
  it('keeps each session total exactly once in the same commit as the rollups, across restarts and re-reads', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-sessions-'));
    const file = join(dir, 'usage.jsonl');
    const state = join(dir, 'state');
    const ledgerUrl = await ledgerUrlFor(kind);
    const run = { jsonlGlobs: [file], batchBytes: 4096, now: () => NOW_MS, ledgerUrl };
    const first = makeCalls(300, 40);
    writeFileSync(file, first.map(line).join(''));
    await runUntilCaughtUp(state, run);
    // A restart re-reads nothing; the same lines appended again (a replayed export) are duplicates.
    const second = makeCalls(200, 40, 300);
    appendFileSync(file, [...second, ...first.slice(0, 50)].map(line).join(''));
    await runUntilCaughtUp(state, run);
    await runUntilCaughtUp(state, run);

    const all = [...first, ...second];
    const db = await openLedgerStore({ url: ledgerUrl, stateDir: state });
    try {
      const rows = await db.all<Record<string, bigint | string>>(
        "SELECT * FROM usage_total WHERE kind = 'session' ORDER BY key",
        [],
        { bigint: true },
      );
      const want = expectedBySession(all);
      expect(rows.length).toBe(want.size);
      for (const r of rows) {
        const e = want.get(String(r.key)) as Expected;
        expect({
          requests: Number(r.requests),
          errors: Number(r.errors),
          exact: r.exact_cost_nano_usd,
          estimated: r.estimated_cost_nano_usd,
          unpriced: Number(r.unpriced_requests),
          input: Number(r.input_tokens),
          cacheRead: Number(r.cache_read_tokens),
          output: Number(r.output_tokens),
          first: Number(r.first_seen_ms),
          last: Number(r.last_seen_ms),
        }).toEqual(e);
      }
      // The last delta is the session's latest counted call; event ids number every counted record.
      const lastOf = new Map<string, Call>();
      for (const c of all) lastOf.set(c.session, c);
      const s7 = rows.find((r) => r.key === 'sess-7') as Record<string, bigint | string>;
      const c7 = lastOf.get('sess-7') as Call;
      expect(Number(s7.last_tokens)).toBe(c7.input + c7.output);
      expect(s7.last_cost_nano_usd).toBe(c7.costNano === undefined ? null : BigInt(c7.costNano));
      expect(Number(s7.last_event_id)).toBe(all.indexOf(c7) + 1);
      expect(
        await db.value("SELECT value FROM pipeline_state WHERE sidecar_id = ? AND name = 'event_seq'", [
          'local',
        ]),
      ).toBe(String(all.length));
      // The user totals equal the per-user rollups; errors by type equal the failed calls.
      const userRollup = await db.all(
        "SELECT principal_id AS key, SUM(requests) AS requests, SUM(cost_nano_usd) AS cost FROM usage_rollup_principal WHERE principal_kind = 'user' GROUP BY principal_id ORDER BY principal_id",
        [],
        { bigint: true },
      );
      const userTotals = await db.all(
        "SELECT key, requests, exact_cost_nano_usd + estimated_cost_nano_usd AS cost FROM usage_total WHERE kind = 'user' ORDER BY key",
        [],
        { bigint: true },
      );
      expect(userTotals).toEqual(userRollup);
      expect(await db.value('SELECT SUM(requests) FROM error_rollup')).toBe(
        all.filter((c) => c.error).length,
      );
    } finally {
      await db.close();
    }
  });
});

function config(d: string, port: number, extra: Partial<SidecarConfig> = {}): SidecarConfig {
  return {
    otlpGlobs: [],
    jsonlGlobs: [join(d, 'usage.jsonl')],
    stateDir: join(d, 'state'),
    listen: { host: '127.0.0.1', port },
    pricesFile: undefined,
    billingGlobs: [],
    budgetsFile: undefined,
    maxLineBytes: 1 << 24,
    dedupWindowMs: 86_400_000,
    batchBytes: 1 << 20,
    pollIntervalMs: 20,
    labelCaps: DEFAULT_LABEL_CAPS,
    firstIncrementHoldMs: 0,
    apiToken: undefined,
    extensions: [],
    now: () => NOW_MS,
    ...extra,
  };
}

/** `requests` of an event's running total. */
const totalRequests = (e: SseEvent | undefined): number =>
  (e?.data.total as { requests: number } | undefined)?.requests ?? Number.NaN;

interface SseEvent {
  event: string;
  id: string;
  data: Record<string, unknown>;
}

/** A real HTTP client of /api/stream: collects parsed events (and heartbeat comments). */
function openStream(url: string, headers: Record<string, string> = {}) {
  const events: SseEvent[] = [];
  let comments = 0;
  const abort = new AbortController();
  const status = (async () => {
    const res = await fetch(url, { headers, signal: abort.signal });
    if (res.status !== 200 || res.body === null) return res.status;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buf += value;
          let cut = buf.indexOf('\n\n');
          while (cut >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            cut = buf.indexOf('\n\n');
            const ev: Partial<SseEvent> = {};
            for (const l of block.split('\n')) {
              if (l.startsWith(':')) comments++;
              else if (l.startsWith('event: ')) ev.event = l.slice(7);
              else if (l.startsWith('id: ')) ev.id = l.slice(4);
              else if (l.startsWith('data: ')) ev.data = JSON.parse(l.slice(6));
            }
            if (ev.event !== undefined) events.push(ev as SseEvent);
          }
        }
      } catch {
        // aborted
      }
    })();
    return res.status;
  })();
  return {
    events,
    status,
    comments: () => comments,
    close: () => abort.abort(),
  };
}

async function until(what: string, cond: () => boolean, budgetMs = 20_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.each(LEDGER_BACKENDS)('GET /api/stream (%s)', (kind) => {
  it('pushes each committed call with its running session total, resumes by Last-Event-ID with no gap or repeat, also across a restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-stream-'));
    const file = join(dir, 'usage.jsonl');
    writeFileSync(file, makeCalls(30, 5).map(line).join(''));
    const port = await freePort();
    const ledgerUrl = await ledgerUrlFor(kind);
    let sidecar = await startSidecar(
      config(dir, port, { streamBuffer: 50, streamHeartbeatMs: 100, ledgerUrl }),
    );
    running.push(sidecar);
    await sidecar.ready;
    const base = sidecar.url;

    // Connect: a snapshot with the session's committed total and the last event id.
    const a = openStream(`${base}/api/stream?session=sess-1`);
    expect(await a.status).toBe(200);
    await until('snapshot', () => a.events.length === 1);
    const snap = a.events[0] as SseEvent;
    expect(snap.event).toBe('snapshot');
    expect(snap.id).toBe('30');
    // Event ids are this sidecar's: the snapshot names it ('local' on a SQLite ledger).
    expect(snap.data.sidecar).toBe(kind === 'sqlite' ? 'local' : sidecar.db.sidecarId);
    const before = (await (await fetch(`${base}/api/usage/sessions/sess-1`)).json()) as Record<
      string,
      unknown
    >;
    expect(snap.data.total).toEqual(
      Object.fromEntries(
        Object.entries(before).filter(
          ([k]) => !['as_of_event_id', 'first_seen', 'last_seen', 'last_delta'].includes(k),
        ),
      ),
    );
    const all = openStream(`${base}/api/stream`);
    await until('unfiltered snapshot', () => all.events.length === 1);

    // Live: 20 more calls; sess-1 gets 4 of them (i*7 % 5 === 1).
    const live = makeCalls(20, 5, 30);
    appendFileSync(file, live.map(line).join(''));
    const mine = live.filter((c) => c.session === 'sess-1');
    await until('live events', () => a.events.length === 1 + mine.length && all.events.length === 21);
    const usage = a.events.slice(1);
    expect(usage.map((e) => e.event)).toEqual(mine.map(() => 'usage'));
    expect(usage.map((e) => e.data.session)).toEqual(mine.map(() => 'sess-1'));
    expect(usage.map((e) => e.data.sidecar)).toEqual(mine.map(() => sidecar.db.sidecarId));
    expect(usage.map((e) => Number(e.id))).toEqual(mine.map((c) => 30 + live.indexOf(c) + 1));
    expect(all.events.slice(1).map((e) => Number(e.id))).toEqual(live.map((_, i) => 31 + i));
    // Each event's total is the previous total plus its delta; the last equals the ledger's.
    let requests = Number((snap.data.total as { requests: number }).requests);
    for (const e of usage) {
      requests += 1;
      expect((e.data.total as { requests: number }).requests).toBe(requests);
      expect((e.data.delta as { priced: boolean }).priced).toBe(
        mine[usage.indexOf(e)]?.costNano !== undefined,
      );
    }
    const after = (await (await fetch(`${base}/api/usage/sessions/sess-1`)).json()) as Record<
      string,
      unknown
    >;
    expect((usage.at(-1) as SseEvent).data.total).toMatchObject({
      requests: after.requests,
      cost_usd: after.cost_usd,
      exact_cost_usd: after.exact_cost_usd,
      estimated_cost_usd: after.estimated_cost_usd,
      tokens: after.tokens,
    });
    expect(after.as_of_event_id).toBe(50);
    // Heartbeats arrive as comments.
    await until('heartbeat', () => a.comments() >= 2);

    // Disconnect after the second live event; 15 more calls; reconnect with Last-Event-ID.
    a.close();
    const seen = usage.slice(0, 2);
    const lastSeen = (seen.at(-1) as SseEvent).id;
    const more = makeCalls(15, 5, 50);
    appendFileSync(file, more.map(line).join(''));
    await until('commit of 15 more', () => all.events.length === 36);
    const b = openStream(`${base}/api/stream?session=sess-1`, { 'Last-Event-ID': lastSeen });
    const expectAfter = [...live, ...more]
      .map((c, i) => ({ c, id: 31 + i }))
      .filter(({ c, id }) => c.session === 'sess-1' && id > Number(lastSeen));
    await until('replay', () => b.events.length === expectAfter.length);
    expect(b.events.map((e) => Number(e.id))).toEqual(expectAfter.map((x) => x.id));
    // Replayed totals continue from the last total the client saw, without repeating it.
    expect(totalRequests(b.events[0])).toBe(totalRequests(seen.at(-1)) + 1);
    const now = (await (await fetch(`${base}/api/usage/sessions/sess-1`)).json()) as { requests: number };
    expect(totalRequests(b.events.at(-1))).toBe(now.requests);
    b.close();
    all.close();

    // An id older than the replay buffer (50 events) gets an explicit reset with the current total.
    const old = openStream(`${base}/api/stream?session=sess-1`, { 'Last-Event-ID': '3' });
    await until('reset', () => old.events.length === 1);
    expect(old.events[0]).toMatchObject({
      event: 'reset',
      id: '65',
      data: { reason: 'too_old', last_event_id: 65 },
    });
    expect(totalRequests(old.events[0])).toBe(now.requests);
    old.close();

    // Restart: ids continue from the ledger's sequence; a client that saw everything resumes with no reset.
    await sidecar.stop();
    running.splice(0);
    sidecar = await startSidecar(config(dir, port, { streamBuffer: 50, ledgerUrl }));
    running.push(sidecar);
    await sidecar.ready;
    const c = openStream(`${base}/api/stream?session=sess-1`, { 'Last-Event-ID': '65' });
    expect(await c.status).toBe(200);
    const tail = makeCalls(10, 5, 65);
    appendFileSync(file, tail.map(line).join(''));
    const tailMine = tail.map((t, i) => ({ t, id: 66 + i })).filter(({ t }) => t.session === 'sess-1');
    await until('events after restart', () => c.events.length === tailMine.length);
    expect(c.events.map((e) => [e.event, Number(e.id)])).toEqual(tailMine.map((x) => ['usage', x.id]));
    expect(totalRequests(c.events[0])).toBe(now.requests + 1);
    c.close();
    // A client that missed events committed before the restart gets a reset (the buffer is memory only).
    const d = openStream(`${base}/api/stream?session=sess-1`, { 'Last-Event-ID': '60' });
    await until('reset after restart', () => d.events.length === 1);
    expect(d.events[0]).toMatchObject({ event: 'reset', data: { reason: 'too_old' } });
    d.close();
  }, 60_000);

  it('caps concurrent streams (503), rejects two filters (400), and needs the API token like /api', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-stream-cap-'));
    writeFileSync(join(dir, 'usage.jsonl'), '');
    const sidecar = await startSidecar(
      config(dir, await freePort(), {
        maxStreams: 2,
        apiToken: 'secret-SYNTHETIC',
        ledgerUrl: await ledgerUrlFor(kind),
      }),
    );
    running.push(sidecar);
    await sidecar.ready;
    const auth = { authorization: 'Bearer secret-SYNTHETIC' };
    expect((await fetch(`${sidecar.url}/api/stream`)).status).toBe(401);
    const s1 = openStream(`${sidecar.url}/api/stream?user=u1`, auth);
    const s2 = openStream(`${sidecar.url}/api/stream?tenant=t1`, auth);
    expect(await s1.status).toBe(200);
    expect(await s2.status).toBe(200);
    await until('two snapshots', () => s1.events.length === 1 && s2.events.length === 1);
    const third = await fetch(`${sidecar.url}/api/stream`, { headers: auth });
    expect(third.status).toBe(503);
    expect(((await third.json()) as { error: string }).error).toBe('too_many_streams');
    // A closed stream frees its slot.
    s1.close();
    let s3: ReturnType<typeof openStream> | undefined;
    for (let attempt = 0; attempt < 100; attempt++) {
      const s = openStream(`${sidecar.url}/api/stream?feature=f`, auth);
      if ((await s.status) === 200) {
        s3 = s;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(s3).toBeDefined();
    s3?.close();
    const res = await fetch(`${sidecar.url}/api/stream?user=a&session=b`, { headers: auth });
    expect(res.status).toBe(400);
    // Calls without the attribute have no running total to follow.
    expect((await fetch(`${sidecar.url}/api/stream?session=`, { headers: auth })).status).toBe(400);
    s2.close();
    expect((await fetch(`${sidecar.url}/api/usage/sessions/nope`, { headers: auth })).status).toBe(404);
  }, 30_000);
});

describe('GET /api/stream on a shared PostgreSQL ledger', () => {
  it("streams the calls this sidecar committed, under its own ids, each with its key's fleet-wide total", async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-stream-fleet-'));
    const root = dir;
    const ledgerUrl = await freshDatabaseUrl();
    const start = async (name: string) => {
      const d = join(root, name);
      mkdirSync(d);
      const file = join(d, 'usage.jsonl');
      writeFileSync(file, '');
      const sidecar = await startSidecar(config(d, await freePort(), { ledgerUrl, sidecarId: name }));
      running.push(sidecar);
      await sidecar.ready;
      return { sidecar, file, url: `${sidecar.url}/api/stream?session=sess-0` };
    };
    const a = await start('sidecar-a');
    const b = await start('sidecar-b');
    // Every call below is in session sess-0 (one session), with its own id (no duplicates).
    const calls = (n: number, from: number) => makeCalls(n, 1, from);
    const streamA = openStream(a.url);
    const streamB = openStream(b.url);
    await until('snapshots', () => streamA.events.length === 1 && streamB.events.length === 1);
    expect(streamA.events[0]).toMatchObject({
      event: 'snapshot',
      id: '0',
      data: { sidecar: 'sidecar-a', total: { requests: 0 } },
    });

    // B counts 12 calls, then A counts 7: A's events are its own (ids 1..7), and their totals
    // include B's 12.
    const fromB = calls(12, 0);
    appendFileSync(b.file, fromB.map(line).join(''));
    await until("B's events", () => streamB.events.length === 13);
    expect(streamB.events.slice(1).map((e) => [Number(e.id), totalRequests(e)])).toEqual(
      fromB.map((_, i) => [i + 1, i + 1]),
    );
    const fromA = calls(7, 100);
    appendFileSync(a.file, fromA.map(line).join(''));
    await until("A's events", () => streamA.events.length === 8);
    const eventsA = streamA.events.slice(1);
    expect(eventsA.map((e) => [Number(e.id), e.data.sidecar, totalRequests(e)])).toEqual(
      fromA.map((_, i) => [i + 1, 'sidecar-a', 12 + i + 1]),
    );
    // The total is the ledger's, to the nano-dollar: both sidecars' calls.
    const want = expectedBySession([...fromB, ...fromA]).get('sess-0') as Expected;
    expect((eventsA.at(-1) as SseEvent).data.total).toMatchObject({
      requests: 19,
      exact_cost_usd: usdDecimal(want.exact),
      estimated_cost_usd: usdDecimal(want.estimated),
      cost_usd: usdDecimal(want.exact + want.estimated),
      unpriced_requests: want.unpriced,
      unknown_usage_requests: 0,
      tokens: { input: want.input, cache_read: want.cacheRead, output: want.output },
    });

    // B's next call: B's sequence continues at 13 (A's calls are not on B's stream), its total is
    // the fleet's.
    appendFileSync(b.file, calls(1, 200).map(line).join(''));
    await until("B's 13th event", () => streamB.events.length === 14);
    expect([Number(streamB.events[13]?.id), totalRequests(streamB.events[13])]).toEqual([13, 20]);

    // A's client goes away; B counts 3 more. A client resuming on A after its event 5 gets A's events
    // 6 and 7 again, their totals taken from the ledger total at the resume (23) less what followed.
    streamA.close();
    appendFileSync(b.file, calls(3, 300).map(line).join(''));
    await until("B's 16th event", () => streamB.events.length === 17);
    const replayed = openStream(a.url, { 'Last-Event-ID': '5' });
    await until('replay on A', () => replayed.events.length === 2);
    expect(replayed.events.map((e) => [Number(e.id), totalRequests(e)])).toEqual([
      [6, 22],
      [7, 23],
    ]);
    // A client that had seen all of A's events resumes with nothing replayed; A's next calls carry
    // totals that include what B counted meanwhile.
    const resumed = openStream(a.url, { 'Last-Event-ID': '7' });
    expect(await resumed.status).toBe(200);
    appendFileSync(a.file, calls(2, 400).map(line).join(''));
    await until("A's next events", () => resumed.events.length === 2);
    expect(resumed.events.map((e) => [e.event, Number(e.id), totalRequests(e)])).toEqual([
      ['usage', 8, 24],
      ['usage', 9, 25],
    ]);
    // Both sidecars answer the fleet's session total, as of their own last event.
    for (const [s, asOf] of [
      [a.sidecar, 9],
      [b.sidecar, 16],
    ] as const) {
      const t = (await (await fetch(`${s.url}/api/usage/sessions/sess-0`)).json()) as Record<string, unknown>;
      expect([t.requests, t.as_of_event_id]).toEqual([25, asOf]);
    }
    replayed.close();
    resumed.close();
    streamB.close();
  }, 60_000);
});

describe('UsageStream', () => {
  const delta = (id: number, session: string): UsageDelta => ({
    id,
    atMs: id,
    session,
    user: '',
    tenant: '',
    feature: '',
    service: 'svc',
    provider: 'p',
    model: 'm',
    usageType: 'exact',
    status: 'ok',
    errorType: '',
    input: 1,
    cacheRead: 0,
    cacheWrite: 0,
    output: 1,
    reasoning: 0,
    costNano: 5,
  });

  it('replays only consecutive ids it still holds, resets subscribers when a batch was counted unheard, and fails them when the ledger cannot be read', async () => {
    const asked: string[] = [];
    let ledgerDown = false;
    // The ledger's total of every key asked for: 100 requests (whatever this sidecar published).
    const stream = new UsageStream(10, { bufferSize: 4, maxStreams: 1 }, async (kind, keys) => {
      asked.push(`${kind}:${keys.join(',')}`);
      if (ledgerDown) throw new Error('ledger unreachable');
      return new Map(keys.map((k) => [k, { ...zeroTotal(kind, k), requests: 100 }]));
    });
    expect(stream.keepDeltas()).toBe(4);
    await stream.publish([11, 12, 13].map((id) => delta(id, 'a')));
    expect(stream.replay(10)).toMatchObject({ ok: true, events: [{ id: 11 }, { id: 12 }, { id: 13 }] });
    await stream.publish([14, 15].map((id) => delta(id, id === 15 ? 'b' : 'a')));
    expect(stream.replay(10)).toEqual({ ok: false, reason: 'too_old' });
    expect(stream.replay(11)).toMatchObject({
      ok: true,
      events: [{ id: 12 }, { id: 13 }, { id: 14 }, { id: 15 }],
    });
    expect(stream.replay(16)).toEqual({ ok: false, reason: 'unknown_id' });
    // Nobody listened: the ledger was never read.
    expect(asked).toEqual([]);

    const got: number[][] = [];
    const totals: (number | null)[] = [];
    let resets = 0;
    let fails = 0;
    const sub: StreamSubscriber = {
      filter: { kind: 'session', key: 'a' },
      deliver: (events, _at, total) => {
        got.push(events.map((d) => d.id));
        totals.push(total?.requests ?? null);
      },
      reset: (total) => {
        resets++;
        totals.push(total?.requests ?? null);
      },
      fail: () => fails++,
    };
    expect(stream.subscribe(sub)).toBe(true);
    expect(stream.subscribe({ ...sub })).toBe(false);
    expect(stream.keepDeltas()).toBe(Number.POSITIVE_INFINITY);
    // A batch's matching events arrive together, with the key's total read after the commit.
    await stream.publish([16, 17, 18].map((id) => delta(id, id === 16 ? 'b' : 'a')));
    expect(got).toEqual([[17, 18]]);
    expect(totals).toEqual([100]);
    expect(asked).toEqual(['session:a']);
    // A batch without the key reads nothing and delivers nothing.
    await stream.publish([delta(19, 'b')]);
    expect(asked).toHaveLength(1);
    expect(got).toHaveLength(1);
    // Events 20..22 were not kept: the subscriber is reset (with the ledger's total) and the buffer
    // restarts at 23.
    await stream.publish(
      [23, 24].map((id) => delta(id, 'a')),
      3,
    );
    expect(resets).toBe(1);
    expect(totals).toEqual([100, 100]);
    expect(got).toHaveLength(1);
    expect(stream.lastEventId).toBe(24);
    expect(stream.replay(19)).toEqual({ ok: false, reason: 'too_old' });
    expect(stream.replay(22)).toMatchObject({ ok: true, events: [{ id: 23 }, { id: 24 }] });
    // The ledger cannot be read: the subscriber fails (its client resumes by id); the events are kept.
    ledgerDown = true;
    await stream.publish([delta(25, 'a')]);
    expect(fails).toBe(1);
    expect(got).toHaveLength(1);
    expect(stream.replay(24)).toMatchObject({ ok: true, events: [{ id: 25 }] });
  });

  it('runs exclusive pieces one after another, in call order', async () => {
    const stream = new UsageStream(0, { bufferSize: 4, maxStreams: 1 }, async () => new Map());
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const reader = stream.exclusive(async () => {
      order.push('read start');
      await held;
      order.push('read end');
    });
    const commit = stream.exclusive(async () => {
      order.push('commit');
      throw new Error('commit failed');
    });
    const after = stream.exclusive(async () => {
      order.push('after');
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['read start']);
    release();
    await reader;
    await expect(commit).rejects.toThrow('commit failed');
    await after;
    // A piece that failed does not stop the next.
    expect(order).toEqual(['read start', 'read end', 'commit', 'after']);
  });
});

describe('ledger migration 5', () => {
  it('fills user, tenant, feature and service totals from the rollups of a ledger counted before it', async () => {
    const db = new Database(':memory:');
    try {
      applyMigrations(
        db,
        MIGRATIONS.filter((m) => m.version < 5),
      );
      await addKnownTraffic(sqliteStore(db, ':memory:'), [
        {
          at: '2026-09-01T09:10:00Z',
          provider: 'openai',
          feature: 'chat',
          tenant: 't1',
          user: 'alice',
          costNano: 7,
          requests: 2,
          inputTokens: 10,
        },
        {
          at: '2026-09-01T11:10:00Z',
          provider: 'openai',
          feature: 'chat',
          tenant: 't1',
          user: 'alice',
          costNano: 5,
          usageType: 'estimated',
          inputTokens: 4,
        },
        {
          at: '2026-09-02T11:10:00Z',
          provider: 'openai',
          feature: 'rank',
          user: 'bob',
          unpriced: true,
          inputTokens: 3,
        },
      ]);
      applyMigrations(db, MIGRATIONS);
      const rows = db
        .prepare(
          'SELECT kind, key, requests, unpriced_requests, input_tokens, exact_cost_nano_usd, estimated_cost_nano_usd, first_seen_ms, last_seen_ms, last_event_id FROM usage_total ORDER BY kind, key',
        )
        .all();
      const h = (iso: string) => Date.parse(iso);
      expect(rows).toEqual([
        {
          kind: 'feature',
          key: 'chat',
          requests: 3,
          unpriced_requests: 0,
          input_tokens: 14,
          exact_cost_nano_usd: 7,
          estimated_cost_nano_usd: 5,
          first_seen_ms: h('2026-09-01T09:00:00Z'),
          last_seen_ms: h('2026-09-01T12:00:00Z') - 1,
          last_event_id: null,
        },
        {
          kind: 'feature',
          key: 'rank',
          requests: 1,
          unpriced_requests: 1,
          input_tokens: 3,
          exact_cost_nano_usd: 0,
          estimated_cost_nano_usd: 0,
          first_seen_ms: h('2026-09-02T11:00:00Z'),
          last_seen_ms: h('2026-09-02T12:00:00Z') - 1,
          last_event_id: null,
        },
        {
          kind: 'service',
          key: 'svc',
          requests: 4,
          unpriced_requests: 1,
          input_tokens: 17,
          exact_cost_nano_usd: 7,
          estimated_cost_nano_usd: 5,
          first_seen_ms: h('2026-09-01T09:00:00Z'),
          last_seen_ms: h('2026-09-02T12:00:00Z') - 1,
          last_event_id: null,
        },
        {
          kind: 'tenant',
          key: 't1',
          requests: 3,
          unpriced_requests: 0,
          input_tokens: 14,
          exact_cost_nano_usd: 7,
          estimated_cost_nano_usd: 5,
          first_seen_ms: h('2026-09-01T09:00:00Z'),
          last_seen_ms: h('2026-09-01T12:00:00Z') - 1,
          last_event_id: null,
        },
        {
          kind: 'user',
          key: 'alice',
          requests: 3,
          unpriced_requests: 0,
          input_tokens: 14,
          exact_cost_nano_usd: 7,
          estimated_cost_nano_usd: 5,
          first_seen_ms: h('2026-09-01T09:00:00Z'),
          last_seen_ms: h('2026-09-01T12:00:00Z') - 1,
          last_event_id: null,
        },
        {
          kind: 'user',
          key: 'bob',
          requests: 1,
          unpriced_requests: 1,
          input_tokens: 3,
          exact_cost_nano_usd: 0,
          estimated_cost_nano_usd: 0,
          first_seen_ms: h('2026-09-02T11:00:00Z'),
          last_seen_ms: h('2026-09-02T12:00:00Z') - 1,
          last_event_id: null,
        },
      ]);
    } finally {
      db.close();
    }
  });
});

describe.each(LEDGER_BACKENDS)('GET /api/stream/totals (%s)', (kind) => {
  it("follows a key's ledger total whichever sidecar counts its calls; a resume on any sidecar gets exactly the missed delta", async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-totals-'));
    const d = dir;
    const ledgerUrl = await ledgerUrlFor(kind);
    // PostgreSQL: two sidecars on one ledger, each tailing its own file. SQLite: one sidecar.
    const files = kind === 'postgres' ? [join(d, 'a.jsonl'), join(d, 'b.jsonl')] : [join(d, 'a.jsonl')];
    for (const f of files) writeFileSync(f, '');
    const sidecars: RunningSidecar[] = [];
    for (const [i, f] of files.entries()) {
      const s = await startSidecar(
        config(d, await freePort(), {
          jsonlGlobs: [f],
          stateDir: join(d, `state-${i}`),
          ledgerUrl,
          ...(ledgerUrl === undefined ? {} : { sidecarId: `sc-${i}` }),
        }),
      );
      running.push(s);
      await s.ready;
      sidecars.push(s);
    }
    const first = sidecars[0] as RunningSidecar;
    const last = sidecars[sidecars.length - 1] as RunningSidecar;
    const calls = makeCalls(60, 3); // sess-0..2; every call lands in one file, alternating
    const write = (from: number, to: number) => {
      for (let i = from; i < to; i++)
        appendFileSync(files[i % files.length] as string, line(calls[i] as Call));
    };
    const want = (n: number) => expectedBySession(calls.slice(0, n)).get('sess-1') as Expected;
    type Total = {
      requests: number;
      exact_cost_usd: string;
      estimated_cost_usd: string;
      tokens: { input: number };
    };
    type Delta = Total;
    const totalOf = (e: SseEvent) => e.data.total as Total;
    const nano = (usd: string) => BigInt(usd.replace('.', ''));

    expect((await fetch(`${first.url}/api/stream/totals`)).status).toBe(400);
    const a = openStream(`${first.url}/api/stream/totals?session=sess-1`);
    expect(await a.status).toBe(200);
    await until('snapshot', () => a.events.length === 1);
    expect(a.events[0]?.event).toBe('snapshot');
    expect(totalOf(a.events[0] as SseEvent).requests).toBe(0);
    write(0, 40);
    await until(
      'the first 40 calls',
      () => totalOf(a.events.at(-1) as SseEvent).requests === want(40).requests,
    );
    // Each event: the previous total plus its delta, exactly; the last equals the ledger's.
    for (let i = 1; i < a.events.length; i++) {
      const e = a.events[i] as SseEvent;
      expect(e.event).toBe('total');
      const prev = totalOf(a.events[i - 1] as SseEvent);
      const delta = e.data.delta as Delta;
      expect(totalOf(e).requests).toBe(prev.requests + delta.requests);
      expect(nano(totalOf(e).exact_cost_usd)).toBe(nano(prev.exact_cost_usd) + nano(delta.exact_cost_usd));
      expect(totalOf(e).tokens.input).toBe(prev.tokens.input + delta.tokens.input);
    }
    const at40 = totalOf(a.events.at(-1) as SseEvent);
    expect([at40.requests, nano(at40.exact_cost_usd), nano(at40.estimated_cost_usd)]).toEqual([
      want(40).requests,
      want(40).exact,
      want(40).estimated,
    ]);
    const lastId = (a.events.at(-1) as SseEvent).id;
    a.close();

    // Away: 20 more calls. Back on the other sidecar (PostgreSQL) with the last id: one event with
    // exactly what was missed.
    write(40, 60);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = (await (await fetch(`${last.url}/api/usage/sessions/sess-1`)).json()) as { requests: number };
      if (s.requests === want(60).requests || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const b = openStream(`${last.url}/api/stream/totals?session=sess-1`, { 'last-event-id': lastId });
    expect(await b.status).toBe(200);
    await until('the resume', () => b.events.length === 1);
    const resumed = b.events[0] as SseEvent;
    expect(resumed.event).toBe('total');
    const delta = resumed.data.delta as Delta;
    expect([delta.requests, nano(delta.exact_cost_usd), nano(delta.estimated_cost_usd)]).toEqual([
      want(60).requests - want(40).requests,
      want(60).exact - want(40).exact,
      want(60).estimated - want(40).estimated,
    ]);
    expect(totalOf(resumed).requests).toBe(want(60).requests);
    // Resuming with the newest id: nothing to send.
    const c = openStream(`${last.url}/api/stream/totals?session=sess-1`, { 'last-event-id': resumed.id });
    expect(await c.status).toBe(200);
    // A hostile or foreign id: a reset with the ledger's total.
    const bad = openStream(`${first.url}/api/stream/totals?session=sess-1&last_event_id=v1.99`);
    const ahead = openStream(`${first.url}/api/stream/totals?session=sess-1`, {
      'last-event-id': resumed.id.replace(/^v1\.\d+/, 'v1.999999'),
    });
    await until('resets', () => bad.events.length === 1 && ahead.events.length === 1);
    expect([bad.events[0]?.event, bad.events[0]?.data.reason]).toEqual(['reset', 'unknown_id']);
    expect([ahead.events[0]?.event, ahead.events[0]?.data.reason]).toEqual(['reset', 'total_went_down']);
    expect(totalOf(bad.events[0] as SseEvent).requests).toBe(want(60).requests);
    expect(c.events).toEqual([]);
    for (const s of [b, c, bad, ahead]) s.close();
  });
});
