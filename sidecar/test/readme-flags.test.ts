/**
 * sidecar/README.md's flag table is the sidecar's flag list: every flag of `spendline sidecar`
 * (config.ts FLAGS, which `--help` prints) has a row with its argument, repeatability, environment
 * variable and default, and no row names a flag the sidecar does not have.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envName, FLAGS } from '../src/config.js';
import { CAPPED_LABELS, DEFAULT_LABEL_CAPS } from '../src/pipeline/labelCaps.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));

interface Row {
  arg: string;
  repeatable: boolean;
  env: string;
  default: string;
}

function readmeRows(): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of readFileSync(README, 'utf8').split('\n')) {
    const m = /^\| `--([a-z-]+) ([^`]+)`( \(repeatable\))? \| `(SPENDLINE_[A-Z_]+)`[^|]* \| ([^|]+) \|/.exec(
      line,
    );
    if (m === null) continue;
    rows.set(m[1] as string, {
      arg: m[2] as string,
      repeatable: m[3] !== undefined,
      env: m[4] as string,
      default: (m[5] as string).trim().replace(/`/g, ''),
    });
  }
  return rows;
}

describe('sidecar README flag table', () => {
  it('lists every sidecar flag with its argument, repeatability, variable and default, and no other', () => {
    const rows = readmeRows();
    expect([...rows.keys()].sort()).toEqual(FLAGS.map((f) => f.name).sort());
    for (const f of FLAGS) {
      const row = rows.get(f.name) as Row;
      const expectedDefault =
        f.name === 'label-cap'
          ? CAPPED_LABELS.map((l) => `${l}=${DEFAULT_LABEL_CAPS[l]}`).join(', ')
          : (f.default ?? '—');
      expect({ flag: f.name, ...row }).toEqual({
        flag: f.name,
        arg: f.arg,
        repeatable: f.repeatable === true,
        env: envName(f.name),
        default: expectedDefault,
      });
    }
  });
});
