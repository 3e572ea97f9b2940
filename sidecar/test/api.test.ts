import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireApiToken } from '../src/api/auth.js';
import { createUsageApi } from '../src/api/usageApi.js';
import type { LedgerStore } from '../src/ledger/store.js';
import { LEDGER_BACKENDS, testLedgers } from './support/ledgerBackends.js';
import { addKnownTraffic, MILLI_USD, USD } from './support/ledgerFixture.js';
import { type LoopbackServer, serveOnLoopback } from './support/loopbackServer.js';

const NOW = Date.parse('2026-09-03T12:00:00Z');
const TOKEN = 'test-token-SYNTHETIC';

describe.each(LEDGER_BACKENDS)('usage API (%s)', (kind) => {
  const ledgers = testLedgers(kind);
  let db: LedgerStore;
  let server: LoopbackServer;
  let base: string;

  beforeAll(async () => {
    db = await ledgers.open();
    await addKnownTraffic(db, [
      {
        at: '2026-09-01T09:00:00Z',
        provider: 'openai',
        model: 'gpt-4o',
        service: 'chat',
        feature: 'answer',
        tenant: 't1',
        user: 'alice',
        task: 'task-1',
        costNano: 1250 * MILLI_USD,
        requests: 2,
      },
      {
        at: '2026-09-01T23:59:59Z',
        provider: 'openai',
        model: 'gpt-4o-mini',
        service: 'chat',
        feature: 'answer',
        tenant: 't1',
        user: 'bob',
        task: 'task-1',
        usageType: 'estimated',
        costNano: 250 * MILLI_USD,
      },
      {
        at: '2026-09-02T00:00:00Z',
        provider: 'anthropic',
        model: 'claude-sonnet-4-5',
        service: 'search',
        feature: 'rank',
        tenant: 't2',
        user: 'alice',
        task: 'task-2',
        costNano: 3 * USD,
      },
      {
        at: '2026-09-02T01:00:00Z',
        provider: 'anthropic',
        model: 'claude-next',
        service: 'search',
        feature: 'rank',
        user: 'alice',
        unpriced: true,
        requests: 5,
        inputTokens: 50,
      },
    ]);
    const app = express();
    app.use(
      '/api',
      requireApiToken({ token: TOKEN, loopbackOnly: true }),
      createUsageApi(db, () => NOW),
    );
    server = await serveOnLoopback(app);
    base = `${server.url}/api`;
  });
  afterAll(async () => {
    await server.close();
  });

  const get = (path: string, token: string | null = TOKEN) =>
    fetch(`${base}${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const getJson = async (path: string) => {
    const res = await get(path);
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown> & { rows: Record<string, unknown>[] },
    };
  };

  describe('usage API auth', () => {
    it('401 without a token or with a wrong one; 200 with the bearer token', async () => {
      expect((await get('/usage/overall', null)).status).toBe(401);
      expect((await get('/usage/overall', 'wrong')).status).toBe(401);
      expect((await get('/usage/overall')).status).toBe(200);
    });
  });

  describe('usage API answers', () => {
    it('GET /usage groups by model with filters and a [from, to) window', async () => {
      const { status, body } = await getJson(
        '/usage?from=2026-09-01&to=2026-09-02&group_by=model&provider=openai',
      );
      expect(status).toBe(200);
      expect(
        body.rows.map((r) => [r.model, r.cost_usd, r.exact_cost_usd, r.estimated_cost_usd, r.requests]),
      ).toEqual([
        ['gpt-4o', '1.250000000', '1.250000000', '0.000000000', 2],
        ['gpt-4o-mini', '0.250000000', '0.000000000', '0.250000000', 1],
      ]);
      expect((body.totals as Record<string, unknown>).cost_usd).toBe('1.500000000');
    });

    it('?limit= keeps the biggest groups; totals and group_count still cover all of them', async () => {
      const { body } = await getJson('/usage?from=2026-09-01&to=2026-09-03&group_by=model&limit=1');
      expect(body.rows.map((r) => [r.model, r.cost_usd])).toEqual([['claude-sonnet-4-5', '3.000000000']]);
      expect([body.group_count, (body.totals as Record<string, unknown>).cost_usd]).toEqual([
        4,
        '4.500000000',
      ]);
    });

    it('GET /usage/users/:id and /usage/tasks/:id read per-principal rollups; unpriced is flagged', async () => {
      const alice = await getJson('/usage/users/alice?group_by=provider');
      expect(
        alice.body.rows.map((r) => [r.provider, r.cost_usd, r.unpriced_requests, r.cost_complete]),
      ).toEqual([
        ['anthropic', '3.000000000', 5, false],
        ['openai', '1.250000000', 0, true],
      ]);
      const task = await getJson('/usage/tasks/task-1');
      expect(task.body.totals).toMatchObject({ cost_usd: '1.500000000', requests: 3, cost_complete: true });
      expect(task.body.filters).toEqual({ task: 'task-1' });
    });

    it('GET /usage/overall totals by provider and by UTC day', async () => {
      const { body } = await getJson('/usage/overall');
      expect((body.by_day as { day: string; cost_usd: string }[]).map((d) => [d.day, d.cost_usd])).toEqual([
        ['2026-09-01', '1.500000000'],
        ['2026-09-02', '3.000000000'],
      ]);
      expect(body.totals).toMatchObject({ cost_usd: '4.500000000', unpriced_requests: 5 });
    });

    it('?format=csv exports exact decimal USD for billing', async () => {
      const res = await get('/usage?from=2026-09-01&to=2026-09-03&group_by=tenant&format=csv');
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      expect((await res.text()).split('\r\n').slice(1, 3)).toEqual([
        't2,3.000000000,3.000000000,0.000000000,0,0,1,0,0,0,0,0,0,0,0,0',
        't1,1.500000000,1.250000000,0.250000000,0,0,3,0,0,0,0,0,0,0,0,0',
      ]);
    });

    it('GET /reconciliation?format=csv has the token columns after the dollars (billed tokens empty without an export)', async () => {
      const res = await get('/reconciliation?days=3&format=csv');
      const [header, first] = (await res.text()).split('\r\n');
      expect(header?.split(',').slice(-3)).toEqual(['status', 'tracked_tokens', 'billed_tokens']);
      expect(first?.split(',').at(-1)).toBe('');
    });

    it('GET /reconciliation?days= lists tracked per provider per day (not billed yet here)', async () => {
      const { body } = await getJson('/reconciliation?days=3');
      expect(
        (body.days as { day: string; provider: string; tracked_usd: string; status: string }[]).map((d) => [
          d.day,
          d.provider,
          d.tracked_usd,
          d.status,
        ]),
      ).toEqual([
        ['2026-09-01', 'openai', '1.500000000', 'not_billed_yet'],
        ['2026-09-02', 'anthropic', '3.000000000', 'not_billed_yet'],
      ]);
    });
  });

  describe('usage API rejects bad parameters with 400 and a clear message', () => {
    const cases: [string, string][] = [
      [
        '/usage?group_by=colour',
        '"group_by" must be one of provider, model, service, feature, user, task, tenant, agent, execution_path, source, hour, day, week, month; got "colour"',
      ],
      [
        '/usage?from=yesterday',
        '"from" must be a date (2026-09-01), an RFC 3339 time with zone (2026-09-01T12:00:00Z) or unix seconds; got "yesterday"',
      ],
      ['/usage?from=2026-09-03&to=2026-09-01', '"from" must be before "to"'],
      [
        '/usage?groupby=model',
        'unknown parameter "groupby"; allowed: from, to, group_by, format, limit, search, provider, model, service, feature, user, task, tenant, agent, execution_path, source',
      ],
      ['/usage?provider=a&provider=b', 'parameter "provider" must be given once, as a plain value'],
      ['/usage?format=xml', '"format" must be one of json, csv; got "xml"'],
      [
        '/usage?group_by=user&task=t',
        'users and tasks cannot be combined in one query (group by one, filter by the other is not kept)',
      ],
      [
        '/usage/users/alice?group_by=task',
        '"group_by" must be one of provider, model, service, feature, hour, day, week, month; got "task"',
      ],
      ['/usage?group_by=model&limit=0', '"limit" must be an integer 1..9999999; got "0"'],
      ['/reconciliation?days=0', '"days" must be an integer 1..400; got "0"'],
      [
        '/budgets/check?colour=red',
        'unknown parameter "colour"; allowed: provider, service, feature, user, task, tenant',
      ],
    ];
    for (const [path, message] of cases) {
      it(`GET ${path}`, async () => {
        expect(await getJson(path)).toEqual({ status: 400, body: { error: 'bad_request', message } });
      });
    }
  });
});
