// The Node version check the `spendline` command and `npm start` run before anything else: on a Node
// older than package.json's engines.node, what fails first is an obscure error deep in a dependency
// (a native module's ABI, a missing API), so say plainly what is needed instead. Plain JavaScript
// that every Node with ES modules can parse.
import { readFileSync } from 'node:fs';

/** The first "MAJOR.MINOR[.PATCH]" of a `>=` range, as numbers (`>=20.10` → [20, 10, 0]). */
function minimumOf(range) {
  const m = /^\s*>=\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(range);
  if (m === null) throw new Error(`engines.node must be ">=MAJOR.MINOR", got ${JSON.stringify(range)}`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

/** A one-line reason when `version` (e.g. "18.20.8") is below `range` (e.g. ">=20.10"); else undefined. */
export function nodeTooOld(range, version) {
  const need = minimumOf(range);
  const have = version
    .replace(/^v/, '')
    .split('.')
    .map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > need[i]) return undefined;
    if ((have[i] ?? 0) < need[i])
      return `spendline needs Node ${range.trim()}; this is Node ${version.replace(/^v/, '')} (${process.execPath}). Install a newer Node (https://nodejs.org/) and run \`npm install\` again, which rebuilds better-sqlite3 for it.`;
  }
  return undefined;
}

/** Exits 1 with the reason when this Node is older than `packageJsonUrl`'s engines.node. */
export function refuseOldNode(packageJsonUrl) {
  const range = JSON.parse(readFileSync(packageJsonUrl, 'utf8')).engines.node;
  const reason = nodeTooOld(range, process.versions.node);
  if (reason !== undefined) {
    process.stderr.write(`${reason}\n`);
    process.exit(1);
  }
}
