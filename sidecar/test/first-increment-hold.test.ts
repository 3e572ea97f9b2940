import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  CommittedCounter,
  CommittedHistogram,
  FirstIncrementHold,
} from '../src/pipeline/committedMetrics.js';

function setup(holdMs: number) {
  let now = 1_000_000;
  const hold = new FirstIncrementHold(holdMs, () => now);
  const registry = new Registry();
  const counter = new CommittedCounter('c_total', 'c', ['k']).register(registry, hold);
  const hist = new CommittedHistogram('h_seconds', 'h', ['k'], [1]).register(registry, hold);
  const scrape = async () => {
    hold.beginScrape();
    return registry.metrics();
  };
  return { counter, hist, scrape, advance: (ms: number) => (now += ms) };
}

describe('first-increment hold', () => {
  it('shows a new series at 0 until a scrape has seen the 0 and the hold has passed', async () => {
    const t = setup(30_000);
    await t.scrape();
    t.counter.setTotal(['a'], 7);
    const state = t.hist.emptyState();
    t.hist.observeInto(state, 0.5);
    t.hist.setState(['a'], state);
    expect(await t.scrape()).toContain('c_total{k="a"} 0');
    expect(await t.scrape()).toContain('h_seconds_count{k="a"} 0');
    t.advance(30_000);
    t.counter.setTotal(['a'], 9); // increments while held are shown with the rest
    const text = await t.scrape();
    expect(text).toContain('c_total{k="a"} 9');
    expect(text).toContain('h_seconds_count{k="a"} 1');
  });

  it('waits for a scrape even after the hold has passed (a Prometheus that was down)', async () => {
    const t = setup(30_000);
    t.counter.setTotal(['a'], 7);
    t.advance(120_000);
    expect(await t.scrape()).toContain('c_total{k="a"} 0');
    expect(await t.scrape()).toContain('c_total{k="a"} 7');
  });

  it('shows restored series at their totals at once, and everything at once with a 0 hold', async () => {
    const t = setup(30_000);
    t.counter.restoreTotal(['a'], 5);
    expect(await t.scrape()).toContain('c_total{k="a"} 5');
    const off = setup(0);
    off.counter.setTotal(['b'], 3);
    expect(await off.scrape()).toContain('c_total{k="b"} 3');
  });
});
