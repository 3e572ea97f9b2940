/**
 * Configuration files (price overrides here, budgets in the sidecar) are hostile until validated:
 * one nested thousands of levels deep is refused with a reason before the YAML parser recurses
 * (which overflowed the stack and at times aborted the process), and ordinary files still parse.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CONFIG_NESTING, parseConfigText } from '../src/configText.js';
import { loadPriceOverrides } from '../src/pricing/index.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('configuration text', () => {
  it('refuses flow nesting past the limit and deep block indentation, with a reason', () => {
    for (const d of [MAX_CONFIG_NESTING + 1, 10_000, 100_000]) {
      expect(parseConfigText(`${'['.repeat(d)}${']'.repeat(d)}`, 'yaml')).toEqual({
        ok: false,
        reason: `nested deeper than ${MAX_CONFIG_NESTING} levels`,
      });
      expect(parseConfigText(`{"a":${'{"a":'.repeat(d)}1${'}'.repeat(d + 1)}`, 'json')).toMatchObject({
        ok: false,
      });
    }
    const block = Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n');
    expect(parseConfigText(block, 'yaml')).toEqual({ ok: false, reason: 'indented deeper than 256 columns' });
    // Brackets inside quoted strings are text, not nesting.
    expect(parseConfigText(`note: "${'['.repeat(500)}"\nk: '${'{'.repeat(500)}'`, 'yaml')).toEqual({
      ok: true,
      doc: { note: '['.repeat(500), k: '{'.repeat(500) },
    });
    expect(parseConfigText('prices:\n  - {provider: openai, model: m, input_mtok: "1.5"}\n', 'yaml')).toEqual(
      {
        ok: true,
        doc: { prices: [{ provider: 'openai', model: 'm', input_mtok: '1.5' }] },
      },
    );
  });

  it('loadPriceOverrides answers a 10k-deep file with a reason instead of failing', () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-config-'));
    const deep = join(dir, 'prices.yaml');
    writeFileSync(deep, `prices: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`);
    expect(loadPriceOverrides(deep)).toEqual({
      ok: false,
      reason: `${deep}: invalid YAML: nested deeper than ${MAX_CONFIG_NESTING} levels`,
    });
  });
});
