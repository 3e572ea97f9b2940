import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Nested duplicate @opentelemetry/* copies make exporters and serializers silently emit nothing.
function findOtelCopies(dir: string, found: Map<string, Set<string>>, depth = 0): void {
  if (depth > 6) return;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    const full = join(dir, entry);
    if (entry === '@opentelemetry') {
      for (const pkg of readdirSync(full)) {
        const manifest = join(full, pkg, 'package.json');
        try {
          const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
          const key = `@opentelemetry/${pkg}`;
          if (!found.has(key)) found.set(key, new Set());
          found.get(key)?.add(version);
        } catch {
          // not a package folder
        }
        findOtelCopies(join(full, pkg, 'node_modules'), found, depth + 1);
      }
    } else if (entry.startsWith('@')) {
      for (const pkg of readdirSync(full)) {
        // A workspace link (@spendline/sdk, …): the shipped workspaces are scanned from their own
        // folders below; test/compat/otel3 holds another release set on purpose.
        if (lstatSync(join(full, pkg)).isSymbolicLink()) continue;
        findOtelCopies(join(full, pkg, 'node_modules'), found, depth + 1);
      }
    } else if (statSync(full).isDirectory()) {
      findOtelCopies(join(full, 'node_modules'), found, depth + 1);
    }
  }
}

describe('OpenTelemetry package set', () => {
  it('installs exactly one version of every @opentelemetry package', () => {
    const found = new Map<string, Set<string>>();
    for (const root of ['node_modules', 'sdk/node_modules', 'sidecar/node_modules'])
      findOtelCopies(root, found);
    expect(found.size).toBeGreaterThan(5);
    const duplicated = [...found]
      .filter(([, versions]) => versions.size > 1)
      .map(([name, v]) => `${name}: ${[...v]}`);
    expect(duplicated).toEqual([]);
  });
});
