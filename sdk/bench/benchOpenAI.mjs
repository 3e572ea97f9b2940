// The `openai` the peer-comparison benchmarks (run.mjs, ab.mjs) run every variant on.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const peerRequire = createRequire(fileURLToPath(new URL('../../bench/peers/package.json', import.meta.url)));

/**
 * The `openai` Node resolves from bench/peers, which pins a major all peers declare support for (else
 * the SDK's own dev dependency), with its version and folder. Loaded as an ES module, as the SDK's
 * is: a `require('openai')` would let the peers' require hooks patch its prototypes, i.e. every
 * variant, instead of only the client each peer is handed.
 */
export async function loadBenchOpenAI() {
  // `openai` exports neither its package.json nor a require-able path to its ES entry: find both.
  const load = async (req) => {
    let dir = dirname(req.resolve('openai'));
    while (basename(dir) !== 'openai' || !existsSync(join(dir, 'package.json'))) dir = dirname(dir);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const m = await import(pathToFileURL(join(dir, pkg.exports['.'].default)).href);
    return { OpenAI: m.default, version: pkg.version, from: relative(REPO, dir) };
  };
  try {
    peerRequire.resolve('openai');
  } catch {
    return load(createRequire(import.meta.url));
  }
  return load(peerRequire);
}
