/**
 * A --budgets file nested thousands of levels deep is refused with a reason (the sidecar then
 * refuses to start and says why) instead of overflowing the YAML parser's stack.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_CONFIG_NESTING } from '@spendline/sdk/core';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBudgetsFile } from '../src/budgets/budgetFile.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('budgets file nesting', () => {
  it('refuses 10k and 100k levels in YAML and JSON with a reason', () => {
    dir = mkdtempSync(join(tmpdir(), 'spendline-budgets-deep-'));
    for (const d of [10_000, 100_000]) {
      for (const name of ['budgets.yaml', 'budgets.json']) {
        const path = join(dir, name);
        writeFileSync(path, `{"budgets": ${'['.repeat(d)}${']'.repeat(d)}}`);
        expect(loadBudgetsFile(path)).toEqual({
          ok: false,
          reason: `${path}: not valid ${name.endsWith('.json') ? 'JSON' : 'YAML'}: nested deeper than ${MAX_CONFIG_NESTING} levels`,
        });
      }
    }
  });
});
