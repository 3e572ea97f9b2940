/** Paths and parsed YAML/JSON of the operations assets, relative to the repository root. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function repoPath(relative: string): string {
  return `${REPO_ROOT}${relative}`;
}

export function readRepoText(relative: string): string {
  return readFileSync(repoPath(relative), 'utf8');
}

export function readRepoYaml(relative: string): unknown {
  return parse(readRepoText(relative));
}

export function readRepoJson(relative: string): unknown {
  return JSON.parse(readRepoText(relative));
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Narrows `value[key]` to a record, failing with the path when the shape is wrong. */
export function recordAt(value: unknown, ...path: string[]): Record<string, unknown> {
  let node: unknown = value;
  for (const key of path) {
    if (!isRecord(node)) throw new Error(`expected an object at ${path.join('.')}`);
    node = node[key];
  }
  if (!isRecord(node)) throw new Error(`expected an object at ${path.join('.')}`);
  return node;
}

export function stringsAt(value: unknown, ...path: string[]): string[] {
  const parent = recordAt(value, ...path.slice(0, -1));
  const list = parent[path[path.length - 1] ?? ''];
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string')) {
    throw new Error(`expected a list of strings at ${path.join('.')}`);
  }
  return list;
}
