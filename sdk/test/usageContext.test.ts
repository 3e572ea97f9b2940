import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR } from '../src/contract.js';
import {
  currentUsageContext,
  recordLLMUsage,
  usageContextMiddleware,
  withUsageContext,
} from '../src/index.js';
import { type Harness, startHarness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
async function mark(): Promise<number> {
  return (await h.collect()).logs.length;
}
async function newAttrs(before: number) {
  return (await h.collect()).logs.slice(before).map((l) => l.attributes);
}
const usage = { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 1, outputTokens: 1 };
const ask = () =>
  h.openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

describe('withUsageContext', () => {
  it('maps every field to its contract attribute', async () => {
    const before = await mark();
    withUsageContext(
      {
        userId: 'u-1',
        sessionId: 's-1',
        feature: 'search',
        taskId: 't-1',
        tenantId: 'acme',
        agentName: 'planner',
        executionPath: 'planner>search',
        conversationId: 'c-1',
      },
      () => recordLLMUsage(usage),
    );
    const [a] = await newAttrs(before);
    expect(a).toMatchObject({
      [ATTR.userId]: 'u-1',
      [ATTR.sessionId]: 's-1',
      [ATTR.feature]: 'search',
      [ATTR.taskId]: 't-1',
      [ATTR.tenantId]: 'acme',
      [ATTR.agentName]: 'planner',
      [ATTR.executionPath]: 'planner>search',
      [ATTR.conversationId]: 'c-1',
    });
  });

  it('nests by merging (inner keys win) and restores the outer context afterwards, across awaits', async () => {
    const before = await mark();
    await withUsageContext({ userId: 'u-2', feature: 'outer' }, async () => {
      await sleep(2);
      await withUsageContext({ feature: 'inner', taskId: 't-2' }, async () => {
        await sleep(1);
        await ask();
      });
      await ask();
    });
    await ask();
    const [inner, outer, none] = await newAttrs(before);
    expect(inner).toMatchObject({ [ATTR.userId]: 'u-2', [ATTR.feature]: 'inner', [ATTR.taskId]: 't-2' });
    expect(outer).toMatchObject({ [ATTR.userId]: 'u-2', [ATTR.feature]: 'outer' });
    expect(outer?.[ATTR.taskId]).toBeUndefined();
    expect(none?.[ATTR.userId]).toBeUndefined();
    expect(none?.[ATTR.feature]).toBeUndefined();
    expect(currentUsageContext()).toEqual({});
  });

  it('keeps 20 concurrent requests apart', async () => {
    const before = await mark();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        withUsageContext({ userId: `user-${i}`, sessionId: `session-${i}` }, async () => {
          await sleep((i * 7) % 5);
          await ask();
          await sleep((i * 3) % 4);
          recordLLMUsage(usage);
        }),
      ),
    );
    const attrs = await newAttrs(before);
    expect(attrs).toHaveLength(40);
    const pairs = attrs.map((a) => `${a[ATTR.userId]}/${a[ATTR.sessionId]}`).sort();
    const expected = Array.from({ length: 20 }, (_, i) => [
      `user-${i}/session-${i}`,
      `user-${i}/session-${i}`,
    ])
      .flat()
      .sort();
    expect(pairs).toEqual(expected);
  });

  it('ignores empty and unknown keys and never throws on bad input', async () => {
    const before = await mark();
    const bad = { userId: '', feature: 42, nonsense: 'x' } as unknown as Parameters<
      typeof withUsageContext
    >[0];
    withUsageContext(bad, () => recordLLMUsage(usage));
    const [a] = await newAttrs(before);
    expect(a?.[ATTR.userId]).toBeUndefined();
    expect(a?.[ATTR.feature]).toBe('42');
    expect(a?.nonsense).toBeUndefined();
  });
});

describe('usageContextMiddleware with a real Express app', () => {
  it('attributes each request’s model calls to that request, concurrently', async () => {
    const app = express();
    app.use(
      usageContextMiddleware<express.Request>((req) => ({
        userId: req.get('x-user-id'),
        feature: 'chat-endpoint',
        tenantId: req.get('x-tenant') ?? 'none',
      })),
    );
    app.get('/ask', async (_req, res) => {
      await sleep(3);
      const r = await ask();
      res.json({ tokens: r.usage?.total_tokens });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const before = await mark();
      const answers = await Promise.all(
        ['alice', 'bob', 'carol'].map((u) =>
          fetch(`${base}/ask`, { headers: { 'x-user-id': u, 'x-tenant': `t-${u}` } }).then((r) => r.json()),
        ),
      );
      expect(answers).toEqual([{ tokens: 18 }, { tokens: 18 }, { tokens: 18 }]);
      const attrs = await newAttrs(before);
      expect(attrs.map((a) => `${a[ATTR.userId]}:${a[ATTR.tenantId]}:${a[ATTR.feature]}`).sort()).toEqual([
        'alice:t-alice:chat-endpoint',
        'bob:t-bob:chat-endpoint',
        'carol:t-carol:chat-endpoint',
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('lets the request through without a context when derive throws', () => {
    let reached = false;
    const mw = usageContextMiddleware(() => {
      throw new Error('boom');
    });
    mw({}, {}, () => {
      reached = true;
      expect(currentUsageContext()).toEqual({});
    });
    expect(reached).toBe(true);
  });
});
