import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import * as ours from '../src/semconv.js';

describe('semantic-convention names', () => {
  it('are exactly the @opentelemetry/semantic-conventions constants of the same names', () => {
    const upstream = new Map<string, unknown>([...Object.entries(incubating), ...Object.entries(stable)]);
    const names = Object.entries(ours);
    expect(names.length).toBeGreaterThan(20);
    for (const [name, value] of names) expect([name, upstream.get(name)]).toEqual([name, value]);
  });
});
