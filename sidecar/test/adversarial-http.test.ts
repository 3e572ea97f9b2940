/**
 * Hostile clients against the sidecar's HTTP surfaces (a real sidecar on loopback, real sockets):
 * malformed query strings, impossible dates, ambiguous credentials, directory tricks on the status
 * page, and request bodies cut off by the client on the local OTLP receiver. Each gets a clear 4xx
 * (never a silently different answer, a 500 or a request that never ends).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, gzipSync } from 'node:zlib';
import { ATTR, USAGE_EVENT_NAME } from '@spendline/sdk/contract';
import { loadPriceOverrides } from '@spendline/sdk/core';
import express, { type Request, type Response } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireApiToken } from '../src/api/auth.js';
import { MIN_QUEUE_SHARE, StreamQueues, streamHandler, totalsReader } from '../src/api/streamApi.js';
import { parseInstant } from '../src/api/usageParams.js';
import { readBillingExport } from '../src/billing/readBillingExport.js';
import { loadBudgetsFile } from '../src/budgets/budgetFile.js';
import type { SidecarConfig } from '../src/config.js';
import { parseSidecarArgs } from '../src/config.js';
import { EXTENSIONS } from '../src/extensionList.js';
import { type RunningSidecar, startSidecar } from '../src/index.js';
import { openLedgerStore } from '../src/ledger/openStore.js';
import type { UsageDelta } from '../src/ledger/usageTotals.js';
import { MAX_VALUE_LENGTH } from '../src/pipeline/valueLength.js';
import { type RunningReceiver, startOtlpReceiver } from '../src/receiver/index.js';
import { UsageStream } from '../src/stream/usageStream.js';
import { serveOnLoopback } from './support/loopbackServer.js';
import { tempDir } from './support/sidecarHarness.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sidecar(extra: Partial<SidecarConfig> = {}, input = ''): Promise<RunningSidecar> {
  const t = tempDir('spendline-adversarial-');
  cleanups.push(t.cleanup);
  writeFileSync(join(t.dir, 'genai.json'), input);
  const parsed = parseSidecarArgs(
    [
      '--otlp-file',
      join(t.dir, 'genai.json'),
      '--state-dir',
      join(t.dir, 'state'),
      '--listen',
      '127.0.0.1:0',
    ],
    {},
  );
  if (!parsed.ok || parsed.help) throw new Error('bad test config');
  const s = await startSidecar({ ...parsed.config, extensions: EXTENSIONS, ...extra });
  cleanups.push(() => s.stop());
  await s.ready;
  return s;
}

interface RawAnswer {
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

/** A committed delta of the live stream's slow-client tests: the same small call each time. */
function streamDelta(id: number): UsageDelta {
  return {
    id,
    atMs: Date.UTC(2026, 8, 1) + id,
    session: `session-${id % 97}`,
    user: 'alice',
    tenant: '',
    feature: 'chat',
    service: 'svc',
    provider: 'openai',
    model: 'gpt-4o-mini',
    usageType: 'exact',
    status: 'ok',
    errorType: '',
    input: 10,
    cacheRead: 0,
    cacheWrite: 0,
    output: 1,
    reasoning: 0,
    costNano: 1500,
  };
}

/** Sends `head` (request line and headers, no final blank line) on a raw socket: nothing is normalised. */
function raw(url: string, head: string): Promise<RawAnswer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    socket.on('data', (d: Buffer) => parts.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(parts).toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      const lines = text.slice(0, at).split('\r\n');
      const headers = new Map<string, string[]>();
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(i + 1).trim()]);
      }
      resolve({ status: Number(lines[0]?.split(' ')[1]), headers, body: text.slice(at + 4) });
    });
    socket.write(`${head}\r\nHost: 127.0.0.1:${u.port}\r\nConnection: close\r\n\r\n`);
  });
}

const jsonError = async (res: globalThis.Response) => {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as { error: string; message: string };
};

describe('query strings are read exactly as sent, or refused', () => {
  it('invalid percent-encoding (bad UTF-8, encoded lone surrogates, a bare %) is a 400, not U+FFFD', async () => {
    const s = await sidecar();
    for (const path of [
      '/api/usage?user=%FF',
      '/api/usage?user=%ED%A0%80', // a lone surrogate, encoded
      '/api/usage?user=caf%C3',
      '/api/usage?user=%',
      '/api/usage?model=%zz',
      '/api/usage?group_by=user&search=%C0%AE',
      '/api/usage/overall?from=%FF',
      '/api/usage/users/bob?feature=%FE',
      '/api/usage/sessions?search=%FF',
      '/api/budgets/check?user=%FF',
      '/api/latency?from=%E0%A4%A',
      '/api/reconciliation?days=%FF',
      '/api/stream?session=%FF',
      '/api/usage?%FF=1',
      '/api/insights?days_back=%FF',
    ]) {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status, path).toBe(400);
      const body = await jsonError(res);
      expect(body.error).toBe('bad_request');
      expect(body.message, path).toMatch(/percent-encoded UTF-8/);
    }
  });

  it('a NUL in a value (query or path) is a 400; well-formed non-ASCII, + and %2B are read as sent', async () => {
    const s = await sidecar();
    for (const path of [
      '/api/usage?user=a%00b',
      '/api/usage/users/a%00b',
      '/api/usage/tasks/%00',
      '/api/usage/sessions/x%00',
      '/api/usage/sessions?search=%00',
      '/api/budgets/check?user=%00',
      '/api/stream?user=%00',
    ]) {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status, path).toBe(400);
      expect((await jsonError(res)).message, path).toMatch(/NUL/);
    }
    const ok = await fetch(`${s.url}/api/usage?user=caf%C3%A9+%F0%9F%98%80%2B1`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { filters: { user: string } }).filters.user).toBe('café 😀+1');
  });
});

/** One collector file-export line holding one usage record (a log event) with these attributes. */
function usageLine(attrs: Record<string, string | number>): string {
  const attributes = Object.entries(attrs).map(([key, v]) => ({
    key,
    value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v },
  }));
  const timeUnixNano = `${Date.now()}000000`;
  return `${JSON.stringify({
    resourceLogs: [
      {
        resource: {},
        scopeLogs: [{ logRecords: [{ timeUnixNano, eventName: USAGE_EVENT_NAME, attributes }] }],
      },
    ],
  })}\n`;
}

describe('names longer than the ledger keeps (128 characters) are found by their full value', () => {
  it('filters, per-principal paths, session totals and stream filters cut the asked value as the ledger did', async () => {
    const user = `u-${'U'.repeat(198)}`;
    const session = `s-${'S'.repeat(4000)}`;
    const s = await sidecar(
      {},
      usageLine({
        [ATTR.operationName]: 'chat',
        [ATTR.providerName]: 'openai',
        [ATTR.requestModel]: 'gpt-4o-mini',
        [ATTR.inputTokens]: 100,
        [ATTR.outputTokens]: 10,
        [ATTR.userId]: user,
        [ATTR.sessionId]: session,
        [ATTR.usageId]: 'long-names-1',
      }),
    );
    const requests = async (path: string) => {
      const res = await fetch(`${s.url}${path}`);
      expect(res.status, path.slice(0, 40)).toBe(200);
      return ((await res.json()) as { totals: { requests: number } }).totals.requests;
    };
    expect(await requests('/api/usage')).toBe(1);
    expect(await requests(`/api/usage?user=${user}`)).toBe(1);
    expect(await requests(`/api/usage/users/${user}`)).toBe(1);
    const byUser = (await (await fetch(`${s.url}/api/usage?group_by=user`)).json()) as {
      rows: { user: string }[];
    };
    expect(byUser.rows.map((r) => r.user.length)).toEqual([MAX_VALUE_LENGTH]);

    // The session id is kept cut like every other name (the stream's replay buffer holds it).
    const list = (await (await fetch(`${s.url}/api/usage/sessions`)).json()) as { rows: { key: string }[] };
    expect(list.rows.map((r) => r.key.length)).toEqual([MAX_VALUE_LENGTH]);
    const cut = list.rows[0]?.key as string;
    expect((await fetch(`${s.url}/api/usage/sessions/${encodeURIComponent(cut)}`)).status).toBe(200);
    const longSession = `s-${'S'.repeat(300)}`;
    const s2 = await sidecar(
      {},
      usageLine({
        [ATTR.operationName]: 'chat',
        [ATTR.providerName]: 'openai',
        [ATTR.requestModel]: 'gpt-4o-mini',
        [ATTR.inputTokens]: 100,
        [ATTR.outputTokens]: 10,
        [ATTR.sessionId]: longSession,
        [ATTR.usageId]: 'long-names-2',
      }),
    );
    const one = await fetch(`${s2.url}/api/usage/sessions/${longSession}`);
    expect(one.status).toBe(200);
    expect(((await one.json()) as { key: string; requests: number }).requests).toBe(1);
    const controller = new AbortController();
    const stream = await fetch(`${s2.url}/api/stream?session=${longSession}`, { signal: controller.signal });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
    while (!text.slice(text.indexOf('event: snapshot')).includes('\n\n'))
      text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const data = /event: snapshot\nid: \d+\ndata: (.*)\n/.exec(text)?.[1] as string;
    expect((JSON.parse(data) as { total: { requests: number } }).total.requests).toBe(1);
  });
});

/** A ledger and a live stream (UsageStream) holding `events` usage deltas, ids 1 to `events`. */
async function publishedStream(events: number, maxStreams: number) {
  const t = tempDir('spendline-adversarial-stream-');
  cleanups.push(t.cleanup);
  const db = await openLedgerStore({ url: undefined, stateDir: t.dir });
  cleanups.push(() => db.close());
  const stream = new UsageStream(0, { bufferSize: events, maxStreams }, totalsReader(db));
  await stream.publish(Array.from({ length: events }, (_, i) => streamDelta(i + 1)));
  return { db, stream };
}

/** A client of `GET /stream` on 127.0.0.1:`port` that resumes from the start and never reads past the status line. */
function stuckClient(port: string) {
  return new Promise<{ status: string; socket: Socket; closed: Promise<void> }>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(`GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: 0\r\n\r\n`);
    });
    cleanups.push(() => void socket.destroy());
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.once('data', (chunk) => {
      socket.pause();
      resolve({ status: chunk.toString('latin1').split(' ')[1] ?? '', socket, closed });
    });
    socket.once('close', () => reject(new Error('closed before any answer')));
  });
}

describe('a stream client far behind', () => {
  it('is sent at most about maxQueuedBytes of a replay per connection, and resumes by id until it has every event', async () => {
    const events = 20_000; // ~12 MB of frames: far more than 64 KiB and loopback socket buffers hold
    const { db, stream } = await publishedStream(events, 4);
    const app = express();
    app.get('/stream', streamHandler(db, stream, { heartbeatMs: 60_000, maxQueuedBytes: 64 * 1024 }));
    const server = await serveOnLoopback(app);
    cleanups.push(() => server.close());

    /** Usage event ids one connection delivers after `from`, until the server ends it or the last id arrives. */
    const connectOnce = async (from: number): Promise<number[]> => {
      const controller = new AbortController();
      const res = await fetch(`${server.url}/stream`, {
        headers: { 'last-event-id': String(from) },
        signal: controller.signal,
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      const ids: number[] = [];
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        const frames = text.split('\n\n');
        text = frames.pop() as string;
        for (const f of frames) {
          const m = /^event: usage\nid: (\d+)\n/.exec(f);
          if (m) ids.push(Number(m[1]));
        }
        if (ids.at(-1) === events) {
          controller.abort();
          break;
        }
      }
      return ids;
    };
    let last = 0;
    let connections = 0;
    while (last < events && connections < 2000) {
      connections++;
      const ids = await connectOnce(last);
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => last + 1 + i));
      last = ids.at(-1) ?? last;
    }
    expect(last).toBe(events);
    expect(connections).toBeGreaterThan(1);
    // Every connection ended (the last one by the client) and left the stream's subscribers.
    for (let i = 0; i < 200 && stream.streams > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stream.streams).toBe(0);
  }, 60_000);

  it('that never reads keeps its slot until what was queued for it is sent, and is cut off when it is not', async () => {
    // ~24 MB of frames, 16 MB of them queued before the client counts as behind: more than the
    // loopback socket buffers take, so the rest waits in the sidecar's memory.
    const events = 40_000;
    const { db, stream } = await publishedStream(events, 2);
    const app = express();
    const drainMs = 5_000;
    app.get(
      '/stream',
      streamHandler(db, stream, { heartbeatMs: 60_000, maxQueuedBytes: 16 * 1024 * 1024, drainMs }),
    );
    const server = await serveOnLoopback(app);
    cleanups.push(() => server.close());
    const { port } = new URL(server.url);

    // Each is let go at once (its replay is over the limit), but its queued bytes stay in the
    // sidecar's memory until it reads them: it still counts against the cap, so a third is refused
    // and clients that never read cannot pile up replays in memory.
    const a = await stuckClient(port);
    const b = await stuckClient(port);
    expect([a.status, b.status]).toEqual(['200', '200']);
    expect(stream.streams).toBe(0);
    const third = await fetch(`${server.url}/stream`);
    expect(third.status).toBe(503);
    await third.body?.cancel();
    // Not drained within drainMs: the sidecar cuts them off, which frees their slots.
    let fourth: Awaited<ReturnType<typeof fetch>> | undefined;
    const controller = new AbortController();
    for (let attempt = 0; attempt < 400 && fourth === undefined; attempt++) {
      const res = await fetch(`${server.url}/stream`, { signal: controller.signal });
      if (res.status === 200) fourth = res;
      else {
        await res.body?.cancel();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(fourth?.status).toBe(200);
    // What a cut client can still read is what the kernel had taken: less than the 16 MB the
    // sidecar had queued for it when it was let go.
    a.socket.resume();
    let received = 0;
    a.socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    await a.closed;
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(16 * 1024 * 1024);
    controller.abort();
  }, 90_000);
});

describe('stream clients that never read', () => {
  it('hold about the total queue between them however many connect, each let go sooner as it fills', async () => {
    // ~24 MB of frames per replay: each client alone could queue its 16 MB limit.
    const events = 40_000;
    const { db, stream } = await publishedStream(events, 8);
    const total = 2 * 1024 * 1024;
    const queues = new StreamQueues(total);
    const app = express();
    app.get(
      '/stream',
      streamHandler(db, stream, {
        heartbeatMs: 60_000,
        maxQueuedBytes: 16 * 1024 * 1024,
        drainMs: 60_000,
        queues,
      }),
    );
    const server = await serveOnLoopback(app);
    cleanups.push(() => server.close());
    const { port } = new URL(server.url);
    const frame = 2048; // more than one usage frame: a client is let go once over its limit
    const clients = [];
    for (let i = 1; i <= 6; i++) {
      clients.push(await stuckClient(port));
      expect(clients.at(-1)?.status).toBe('200');
      expect(queues.queuedBytes()).toBeLessThanOrEqual(total + i * (MIN_QUEUE_SHARE + frame));
    }
    // A client reading normally is still served (its share is at least MIN_QUEUE_SHARE).
    const controller = new AbortController();
    const live = await fetch(`${server.url}/stream`, { signal: controller.signal });
    expect(live.status).toBe(200);
    const reader = (live.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: snapshot')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    for (const c of clients) c.socket.destroy();
  }, 60_000);
});

describe('HEAD on the event streams', () => {
  it('is answered with the headers a GET gets and ends, without taking a stream slot', async () => {
    const s = await sidecar({ maxStreams: 1 });
    const noAnswer = new Promise<'no answer'>((r) => setTimeout(() => r('no answer'), 10_000).unref());
    for (const path of ['/api/stream', '/api/stream/totals?session=s1']) {
      const answer = await Promise.race([raw(s.url, `HEAD ${path} HTTP/1.1`), noAnswer]);
      if (answer === 'no answer') throw new Error(`HEAD ${path}: no answer`);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toEqual(['text/event-stream; charset=utf-8']);
      expect(answer.body).toBe('');
    }
    // The one slot is still free.
    const controller = new AbortController();
    const get = await fetch(`${s.url}/api/stream`, { signal: controller.signal });
    expect(get.status).toBe(200);
    controller.abort();
  }, 30_000);
});

describe('requests Node refuses before any route', () => {
  it('a query string past the header limit is 431 JSON, a malformed request line 400 JSON, both with the security headers', async () => {
    const s = await sidecar();
    for (const [head, status] of [
      [`GET /api/usage?user=${'u'.repeat(20_000)} HTTP/1.1`, 431],
      ['GET /api/usage HTTP/1.1\r\nX-Big: ' + 'h'.repeat(20_000), 431],
      ['GET /api/us age HTTP/1.1', 400],
      ['GET /api/usage HTTP/9.9', 400],
      ['GET /api/usage HTTP/1.1\r\nBad Header: x', 400],
    ] as const) {
      const r = await raw(s.url, head);
      expect(r.status, head.slice(0, 40)).toBe(status);
      expect(r.headers.get('content-type')?.[0]).toMatch(/^application\/json/);
      expect(r.headers.get('content-security-policy')?.[0]).toContain("frame-ancestors 'none'");
      expect(JSON.parse(r.body)).toMatchObject({ error: 'bad_request' });
    }
    expect((await raw(s.url, 'GET /api/usage HTTP/1.1')).status).toBe(200); // the server still answers
  });
});

describe('times that do not exist are refused, not rolled over', () => {
  it('impossible calendar days and clock times in RFC 3339 are 400', async () => {
    const s = await sidecar();
    for (const t of [
      '2026-02-31T00:00:00Z',
      '2026-04-31T12:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T12:60:00Z',
      '2026-01-01T12:00:61Z',
      '2026-01-01T00:00:00+24:00',
      '2026-01-01T00:00:00+05:60',
      '2026-00-10T00:00:00Z',
    ]) {
      expect(parseInstant('from', t).ok, t).toBe(false);
      const res = await fetch(`${s.url}/api/usage?from=${encodeURIComponent(t)}`);
      expect(res.status, t).toBe(400);
      expect((await jsonError(res)).message).toMatch(/"from" must be a date/);
    }
    const valid: [string, number][] = [
      ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29) / 1000],
      ['2026-01-01T00:00:00+14:00', Date.UTC(2025, 11, 31, 10) / 1000],
      ['2026-12-31T23:59:59.999-23:59', Date.UTC(2027, 0, 1, 23, 58, 59) / 1000],
      ['2026-03-01t10:00:00z', Date.UTC(2026, 2, 1, 10) / 1000],
      ['2026-03-01T10:00Z', Date.UTC(2026, 2, 1, 10) / 1000],
    ];
    for (const [t, sec] of valid) expect(parseInstant('from', t), t).toEqual({ ok: true, value: sec });
    const ok = await fetch(`${s.url}/api/usage?from=2024-02-29T00:00:00Z&to=2024-03-01T00:00:00Z`);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { from: string }).from).toBe('2024-02-29T00:00:00.000Z');
  });
});

describe('credentials', () => {
  it('two Authorization headers are a 400 whatever their order; one, with extra spaces, works', async () => {
    const s = await sidecar({ apiToken: 'tok-SYNTHETIC-1234' });
    const good = 'Authorization: Bearer tok-SYNTHETIC-1234';
    const bad = 'Authorization: Bearer wrong';
    for (const pair of [
      [good, bad],
      [bad, good],
      [good, good],
    ]) {
      const r = await raw(s.url, `GET /api/usage HTTP/1.1\r\n${pair.join('\r\n')}`);
      expect(r.status, pair.join(' / ')).toBe(400);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'bad_request' });
      expect(JSON.parse(r.body).message).toMatch(/one Authorization header/);
    }
    expect((await raw(s.url, `GET /api/usage HTTP/1.1\r\n${good}`)).status).toBe(200);
    expect(
      (await raw(s.url, 'GET /api/usage HTTP/1.1\r\nAuthorization: bearer   tok-SYNTHETIC-1234  ')).status,
    ).toBe(200);
    expect((await raw(s.url, 'GET /api/usage?access_token=tok-SYNTHETIC-1234 HTTP/1.1')).status).toBe(401);
  });

  it('compares a same-length digest of any presented token, so its length does not decide how long it takes', () => {
    const check = requireApiToken({ token: 'tok-SYNTHETIC-1234', loopbackOnly: false });
    const spy = vi.mocked(crypto.timingSafeEqual);
    for (const presented of ['x', 'tok-SYNTHETIC-123', 'tok-SYNTHETIC-1234', 'y'.repeat(5000)]) {
      spy.mockClear();
      let passed = false;
      const res = {
        setHeader: () => res,
        status: () => res,
        json: () => res,
      } as unknown as Response;
      const req = {
        get: (name: string) => (name.toLowerCase() === 'authorization' ? `Bearer ${presented}` : undefined),
        rawHeaders: ['Authorization', `Bearer ${presented}`],
      } as unknown as Request;
      check(req, res, () => {
        passed = true;
      });
      expect(passed, presented).toBe(presented === 'tok-SYNTHETIC-1234');
      expect(spy, presented).toHaveBeenCalledTimes(1);
      const [a, b] = spy.mock.calls[0] as [Buffer, Buffer];
      expect(a.length).toBe(32);
      expect(b.length).toBe(32);
    }
  });

  it('SPENDLINE_API_TOKEN with spaces, a trailing newline or non-ASCII is refused at start (no client could send it)', () => {
    const args = ['--otlp-file', 'x.json', '--listen', '0.0.0.0:9464'];
    for (const token of ['tok-SYNTHETIC\n', ' tok-SYNTHETIC', 'tok SYNTHETIC', 'tok-SYNTHÉTIC', 'tok\tx']) {
      const parsed = parseSidecarArgs(args, { SPENDLINE_API_TOKEN: token });
      expect(parsed.ok, JSON.stringify(token)).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(/SPENDLINE_API_TOKEN/);
    }
    const ok = parseSidecarArgs(args, { SPENDLINE_API_TOKEN: 'tok-SYNTHETIC_1.2~3+/=' });
    expect(ok.ok && !ok.help && ok.config.apiToken).toBe('tok-SYNTHETIC_1.2~3+/=');
  });

  it('API answers (data, errors, refusals) are never stored by a cache', async () => {
    const s = await sidecar({ apiToken: 'tok-SYNTHETIC-1234' });
    const auth = { authorization: 'Bearer tok-SYNTHETIC-1234' };
    for (const [path, headers, status] of [
      ['/api/usage', auth, 200],
      ['/api/usage?limit=0', auth, 400],
      ['/api/nope', auth, 404],
      ['/api/usage', {}, 401],
    ] as const) {
      const res = await fetch(`${s.url}${path}`, { headers });
      expect(res.status, path).toBe(status);
      expect(res.headers.get('cache-control'), path).toBe('no-store');
    }
  });
});

describe('paths Express routes to the API (it matches /api in any capitalisation, with or without a trailing slash)', () => {
  it('are all behind the token, and an unknown one is a JSON 404 after it, as under /api/', async () => {
    const s = await sidecar({ apiToken: 'tok-SYNTHETIC-1234' });
    const auth = 'Authorization: Bearer tok-SYNTHETIC-1234';
    const routed = [
      '/API/usage',
      '/Api/usage/',
      '/api/USAGE',
      '/API',
      '/aPi/',
      '/Api/nonexistent',
      '/API/nonexistent/',
    ];
    for (const path of routed) {
      const r = await raw(s.url, `GET ${path} HTTP/1.1`);
      expect(r.status, path).toBe(401);
      expect(JSON.parse(r.body), path).toMatchObject({ error: 'unauthorized' });
    }
    for (const [path, status] of [
      ['/API/usage', 200],
      ['/Api/usage/', 200],
      ['/API', 200],
      ['/Api/nonexistent', 404],
      ['/API/nonexistent/', 404],
      ['/api/nonexistent', 404],
    ] as const) {
      const r = await raw(s.url, `GET ${path} HTTP/1.1\r\n${auth}`);
      expect(r.status, path).toBe(status);
      expect(r.headers.get('content-type')?.[0], path).toMatch(/^application\/json/);
      expect(r.headers.get('cache-control')?.[0], path).toBe('no-store');
      if (status === 404)
        expect(JSON.parse(r.body), path).toEqual({
          error: 'not_found',
          message: `no such endpoint: GET ${path}`,
        });
    }
    // Paths Express does not route to the API are the status page's plain 404, token or not.
    for (const path of ['//api/usage', '/apiusage', '/%61pi/usage', '/api.json']) {
      const r = await raw(s.url, `GET ${path} HTTP/1.1\r\n${auth}`);
      expect(r.status, path).toBe(404);
      expect(r.headers.get('content-type')?.[0], path).toMatch(/^text\/plain/);
    }
  });

  it('without a token on loopback, an unknown path in any capitalisation is the same JSON 404', async () => {
    const s = await sidecar();
    for (const path of ['/Api/nonexistent', '/API/nope/', '/api/nonexistent']) {
      const r = await raw(s.url, `GET ${path} HTTP/1.1`);
      expect(r.status, path).toBe(404);
      expect(JSON.parse(r.body), path).toMatchObject({ error: 'not_found' });
    }
  });
});

describe('the status page', () => {
  it('a path that resolves to a directory is a plain 404: no redirect that echoes the path, no HTML', async () => {
    const s = await sidecar();
    for (const path of [
      '/app.js/..',
      '/\\evil.test/..',
      '//evil.test/%2e%2e',
      '/%5cevil.test/%2e%2e',
      '/x/..',
    ]) {
      const r = await raw(s.url, `GET ${path} HTTP/1.1`);
      expect(r.status, path).toBe(404);
      expect(r.headers.get('location'), path).toBeUndefined();
      expect(r.headers.get('content-type')?.[0], path).toMatch(/^text\/plain/);
    }
    expect((await raw(s.url, 'GET / HTTP/1.1')).status).toBe(200);
  });
});

describe('the local OTLP receiver', () => {
  let dir: string;
  let receiver: RunningReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('a compressed body the client abandons half-way ends that request (rejected), as an uncompressed one does', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-adversarial-receiver-'));
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: join(dir, 'export.jsonl') });
    const port = Number(new URL(receiver.url).port);
    const bodies: [string, Buffer][] = [
      ['gzip', gzipSync(Buffer.alloc(4 << 20, 0x20))],
      ['deflate', deflateSync(Buffer.alloc(4 << 20, 0x20))],
      ['identity', Buffer.alloc(1 << 20, 0x20)],
    ];
    for (const [encoding, body] of bodies) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          const part = body.subarray(0, Math.floor(body.length / 2));
          socket.write(
            `POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: ${encoding}\r\n` +
              `Content-Length: ${body.length}\r\n\r\n`,
          );
          socket.write(part, () => setTimeout(() => socket.destroy(), 50));
        });
        socket.on('close', () => resolve());
        socket.on('error', () => undefined);
      });
    }
    // Every request ends: counted as rejected (nothing was written). Bounded by polls, not time.
    for (let i = 0; i < 200 && (receiver.stats().rejected < 3 || receiver.stats().requests < 3); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(receiver.stats()).toMatchObject({ requests: 3, accepted: 0, rejected: 3, linesWritten: 0 });
  });

  it('bodies being read at once are bounded in bytes: past the budget a request is 503 with Retry-After, then served', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-adversarial-receiver-'));
    const MiB = 1 << 20;
    receiver = await startOtlpReceiver({
      host: '127.0.0.1',
      port: 0,
      filePath: join(dir, 'export.jsonl'),
      maxBodyBytes: MiB,
      maxBufferedBytes: 2 * MiB,
    });
    const port = Number(new URL(receiver.url).port);
    const body = Buffer.from(JSON.stringify({ resourceLogs: [], pad: 'x'.repeat(MiB - 40) }));
    expect(body.length).toBeLessThanOrEqual(MiB);
    /** Sends the head and all but the last 10 bytes; `finish` sends the rest and reads the answer. */
    const start = (headRest: number) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      const parts: Buffer[] = [];
      socket.on('data', (d: Buffer) => parts.push(d));
      const ended = new Promise<string>((resolve) =>
        socket.on('close', () => resolve(Buffer.concat(parts).toString())),
      );
      socket.write(
        `POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      socket.write(body.subarray(0, body.length - headRest));
      return {
        finish: () => {
          socket.end(body.subarray(body.length - headRest));
          return ended;
        },
        ended,
      };
    };
    const a = start(10);
    const b = start(10);
    // Both bodies are being held (bounded by polls).
    for (let i = 0; i < 500 && receiver.stats().bufferedBytes < 2 * (body.length - 10); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(receiver.stats().bufferedBytes).toBe(2 * (body.length - 10));
    const c = start(0);
    const refused = await c.ended;
    expect(refused).toMatch(/^HTTP\/1\.1 503 /);
    expect(refused).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(refused).toMatch(/busy/);
    expect(await a.finish()).toMatch(/^HTTP\/1\.1 200 /);
    expect(await b.finish()).toMatch(/^HTTP\/1\.1 200 /);
    expect(receiver.stats()).toMatchObject({ requests: 3, accepted: 2, rejected: 1, bufferedBytes: 0 });
    // With the budget free again, the same request is served.
    expect(await start(0).ended).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('truncated protobuf is named as such, not as nesting', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-adversarial-receiver-'));
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: join(dir, 'export.jsonl') });
    // resource_logs (field 1) announcing 127 bytes, followed by 2.
    const res = await fetch(`${receiver.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Uint8Array.from([0x0a, 0x7f, 0x12, 0x00]),
    });
    expect(res.status).toBe(400);
    const { message } = (await res.json()) as { message: string };
    expect(message).toMatch(/^invalid protobuf: /);
    expect(message).not.toMatch(/nested/);
  });
});

describe('configuration files saved by other tools', () => {
  it('a budgets file in JSON with a byte-order mark and CRLF lines is read (as YAML already was); a NUL in a scope value is refused', () => {
    const t = tempDir('spendline-adversarial-config-');
    cleanups.push(t.cleanup);
    const doc = '{"budgets":[{"name":"daily","period":"day","limit_usd":"5.5","scope":{"feature":"chat"}}]}';
    for (const [name, text] of [
      ['bom.json', `\ufeff${doc}\r\n`],
      [
        'bom.yml',
        `\ufeffbudgets:\r\n  - name: daily\r\n    period: day\r\n    limit_usd: "5.5"\r\n    scope: { feature: chat }\r\n`,
      ],
    ] as const) {
      writeFileSync(join(t.dir, name), text);
      expect(loadBudgetsFile(join(t.dir, name)), name).toEqual({
        ok: true,
        budgets: [{ name: 'daily', period: 'day', scope: { feature: 'chat' }, limitNano: 5_500_000_000 }],
      });
    }
    writeFileSync(join(t.dir, 'nul.json'), doc.replace('"chat"', '"ch\\u0000at"'));
    const nul = loadBudgetsFile(join(t.dir, 'nul.json'));
    expect(nul.ok).toBe(false);
    if (!nul.ok) expect(nul.reason).toMatch(/scope\.feature: .*NUL/);
  });
});

describe('hostile billing exports', () => {
  const refusedWith = (name: string, text: string) => {
    const t = tempDir('spendline-adversarial-billing-');
    cleanups.push(t.cleanup);
    writeFileSync(join(t.dir, name), text);
    const r = readBillingExport(join(t.dir, name));
    expect(r.ok, name).toBe(false);
    return r.ok ? [] : (r.rejections ?? []).map((x) => `${x.location}: ${x.reason}`);
  };

  it('a path that is not a regular file (a FIFO nobody writes, a device) is refused at once, not read forever', () => {
    const t = tempDir('spendline-adversarial-billing-');
    cleanups.push(t.cleanup);
    const fifo = join(t.dir, 'export.jsonl');
    execFileSync('mkfifo', [fifo]);
    for (const path of [fifo, '/dev/zero']) {
      // The real CLI in a child: reading either would block or fill memory; the budget is generous.
      const r = spawnSync(
        process.execPath,
        [
          fileURLToPath(new URL('../dist/cli.js', import.meta.url)),
          'billing',
          'import',
          path,
          '--state-dir',
          t.dir,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(r.signal, path).toBeNull();
      expect(r.status, path).toBe(1);
      expect(r.stdout + r.stderr, path).toMatch(/not a regular file/);
    }
    // Budgets and price overrides are read the same way (in-process: they answer at once).
    for (const path of [fifo, '/dev/zero']) {
      expect(loadBudgetsFile(path)).toEqual({ ok: false, reason: `cannot read ${path}: not a regular file` });
      expect(loadPriceOverrides(path)).toEqual({
        ok: false,
        reason: `cannot read price overrides ${path}: not a regular file`,
      });
    }
  });

  it('a bucket time outside any calendar is a rejected row, not an exception that aborts the import', () => {
    for (const start of ['1e300', '-1e15', '9e15']) {
      const page = `{"object":"page","data":[{"object":"bucket","start_time":${start},"end_time":1788307200,"results":[]}],"has_more":false}`;
      expect(refusedWith('openai.json', page)).toEqual([
        expect.stringMatching(/^data\[0\]: .*(out of range|start_time)/),
      ]);
    }
  });

  it('a timestamp on a day that does not exist is refused, not rolled over into the next month', () => {
    const rows = [
      '{"date":"2026-04-31T00:00:00+02:00","provider":"openai","cost_usd":"1.50"}',
      '{"date":"2026-02-30T10:00:00Z","provider":"openai","cost_usd":"1.50"}',
    ];
    expect(refusedWith('rollover.jsonl', `${rows.join('\n')}\n`)).toEqual([
      expect.stringMatching(/^line 1: date: .*2026-04-31/),
      expect.stringMatching(/^line 2: date: .*2026-02-30/),
    ]);
  });

  it('a provider or source name no usage record could carry (over 128 characters, control characters) is refused', () => {
    const rows = [
      { date: '2026-11-01', provider: 'p'.repeat(300_000), cost_usd: '1' },
      { date: '2026-11-01', provider: 'open\u0000ai', cost_usd: '1' },
      { date: '2026-11-01', provider: 'openai\r\nx', cost_usd: '1' },
      { date: '2026-11-01', provider: 'openai', cost_usd: '1', source: 's'.repeat(200) },
    ];
    expect(refusedWith('names.jsonl', rows.map((r) => `${JSON.stringify(r)}\n`).join(''))).toEqual([
      expect.stringMatching(/^line 1: provider: .*128/),
      expect.stringMatching(/^line 2: provider: .*control/),
      expect.stringMatching(/^line 3: provider: .*control/),
      expect.stringMatching(/^line 4: source: .*128/),
    ]);
  });
});
