/**
 * The budget check against a hostile or broken endpoint: it must fail open (or closed, when asked)
 * within its timeout, read a bounded answer, never follow a redirect, and keep a bounded cache.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import {
  BudgetExceededError,
  type BudgetOptions,
  instrumentOpenAI,
  startTelemetry,
  type TelemetryHandle,
  withUsageContext,
} from '../src/index.js';
import { activeRuntime } from '../src/telemetry/runtime.js';
import { type FakeProvider, startFakeProvider } from '../src/testing/index.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlpReceiver.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface TestServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

async function serve(handler: Handler): Promise<TestServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The budget endpoint's behaviour, chosen per call by the checked user id. */
const behaviours: Record<string, Handler> = {};
let budget: TestServer;
let thief: TestServer;
let fake: FakeProvider;
let receiver: OtlpReceiver;
/** Bytes the `huge` answer managed to write before the client stopped reading. */
let hugeWritten = 0;
const HUGE_TOTAL = 64 * 1024 * 1024;

beforeAll(async () => {
  thief = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"within"}');
  });
  budget = await serve((req, res) => {
    const user = new URL(req.url ?? '', 'http://x').searchParams.get('user') ?? '';
    const h = behaviours[user];
    if (h) h(req, res);
    else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"within"}');
    }
  });
  Object.assign(behaviours, {
    hang: () => undefined,
    'stall-body': (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"status":"wi');
    },
    garbage: (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>proxy error</html>');
    },
    'bad-answer': (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"exceeded","budgets":"all of them"}');
    },
    huge: (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (hugeWritten < HUGE_TOTAL) {
          hugeWritten += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.write('{"status":"within","pad":"');
      pump();
    },
    redirect: (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(302, { location: `${thief.url}/api/budgets/check?user=redirect` });
      res.end();
    },
    over: (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'exceeded',
          budgets: [
            {
              budget: 'b',
              period: 'day',
              status: 'exceeded',
              limit_usd: '1',
              spent_usd: '2',
              remaining_usd: '0',
            },
          ],
        }),
      );
    },
  });
  fake = await startFakeProvider();
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await Promise.all([budget.close(), thief.close(), fake.close(), receiver.close()]);
});

async function withTelemetry<T>(
  budgets: BudgetOptions,
  fn: (openai: OpenAI, t: TelemetryHandle) => Promise<T>,
): Promise<T> {
  const t = startTelemetry({ env: { OTLP_ENDPOINT: receiver.url }, scheduledDelayMillis: 50, budgets });
  try {
    const openai = instrumentOpenAI(new OpenAI({ apiKey: 'k', baseURL: fake.openaiBaseURL, maxRetries: 0 }));
    return await fn(openai, t);
  } finally {
    await t.shutdown();
  }
}

const ask = (openai: OpenAI, userId: string) =>
  withUsageContext({ userId }, () =>
    openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  );

describe('budget check against a hostile endpoint', () => {
  it.each(['hang', 'stall-body', 'garbage', 'bad-answer', 'huge', 'redirect'])(
    '%s: fail-open lets the call through, counted as a failed check',
    async (user) => {
      await withTelemetry({ url: budget.url, timeoutMs: 300 }, async (openai, t) => {
        const sent = fake.requests.length;
        const reply = await ask(openai, user);
        expect(reply.choices[0]?.message.content).toBe('Hello from the spendline fake provider.');
        expect(fake.requests.length).toBe(sent + 1);
        expect(t.stats()).toMatchObject({ budgetChecks: 1, budgetChecksFailed: 1, budgetRefusals: 0 });
      });
    },
    20_000,
  );

  it.each(['hang', 'huge', 'redirect'])(
    '%s: fail-closed refuses the call as unavailable',
    async (user) => {
      await withTelemetry({ url: budget.url, timeoutMs: 300, failClosed: true }, async (openai) => {
        const sent = fake.requests.length;
        const e = await ask(openai, user).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(BudgetExceededError);
        expect((e as BudgetExceededError).reason).toBe('unavailable');
        expect(fake.requests.length).toBe(sent);
      });
    },
    20_000,
  );

  it('a huge answer is not read to its end', () => {
    // Both `huge` runs above stopped reading: far less than one answer's 64 MiB was ever written.
    expect(hugeWritten).toBeGreaterThan(0);
    expect(hugeWritten).toBeLessThan(HUGE_TOTAL / 4);
  });

  it('a redirect is never followed: the scope goes nowhere else', () => {
    expect(budget.requests.some((u) => u.includes('user=redirect'))).toBe(true);
    expect(thief.requests).toEqual([]);
  });

  it('an invalid timeoutMs falls back to the default instead of failing every check open', async () => {
    await withTelemetry({ url: budget.url, timeoutMs: Number.NaN }, async (openai, t) => {
      const e = await ask(openai, 'over').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BudgetExceededError);
      expect((e as BudgetExceededError).reason).toBe('exceeded');
      expect(t.stats()).toMatchObject({ budgetChecks: 1, budgetChecksFailed: 0, budgetRefusals: 1 });
    });
  });

  it('asResponse() on a call still waiting for its budget check: the raw response, and one record of unknown usage', async () => {
    await withTelemetry({ url: budget.url }, async (openai, t) => {
      const res = await withUsageContext({ userId: 'raw-reader' }, () =>
        openai.chat.completions
          .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
          .asResponse(),
      );
      expect(res.status).toBe(200);
      await res.text();
      await t.forceFlush();
      const recs = receiver.logs().filter((l) => l.attributes[ATTR.userId] === 'raw-reader');
      expect(recs).toHaveLength(1);
      expect(recs[0]?.attributes[ATTR.usageType]).toBe('unknown');
      expect(t.stats().budgetChecks).toBe(1);
    });
  });

  it('one distinct user per call keeps the answer cache bounded', async () => {
    await withTelemetry({ url: budget.url, ttlMs: 60_000 }, async (_openai, t) => {
      const guard = activeRuntime()?.budget;
      if (!guard) throw new Error('no budget guard');
      const n = 10_500;
      for (let i = 0; i < n; i += 250) {
        await Promise.all(
          Array.from({ length: 250 }, (_, j) => guard.gate({ userId: `u-${i + j}` }, 'openai')),
        );
      }
      expect(t.stats().budgetChecks).toBe(n);
      expect(guard.cachedScopes).toBeLessThanOrEqual(10_000);
      expect(guard.cachedScopes).toBeGreaterThan(0);
    });
  }, 120_000);
});
