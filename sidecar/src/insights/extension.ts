import { createPricer } from '@spendline/sdk/core';
import { readQuery } from '../api/usageParams.js';
import type { SidecarExtension } from '../extensions.js';
import { computeInsights } from './computeInsights.js';
import { insightToJson } from './formatInsights.js';

/** GET /api/insights?days_back=N: the insights of `spendline insights`, as JSON. */
export const insightsExtension: SidecarExtension = {
  name: 'insights',
  start(ctx) {
    const pricer = createPricer(
      ctx.config.pricesFile !== undefined ? { overrides: ctx.config.pricesFile } : undefined,
    );
    ctx.api.get('/insights', async (req, res) => {
      const q = readQuery(req, ['days_back']);
      if (!q.ok) {
        res.status(400).json({ error: 'bad_request', message: q.reason });
        return;
      }
      const raw = q.value.days_back ?? '30';
      if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 400) {
        res.status(400).json({ error: 'bad_request', message: 'days_back must be an integer from 1 to 400' });
        return;
      }
      const daysBack = Number(raw);
      const list = await computeInsights(ctx.db, pricer, ctx.now(), { daysBack });
      res.json({ days_back: daysBack, insights: list.map(insightToJson) });
    });
  },
};
