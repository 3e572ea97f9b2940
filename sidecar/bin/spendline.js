#!/usr/bin/env node
// The `spendline` command npm links at install time. It exists before any build (npm links only a
// bin whose file exists), refuses a Node older than engines.node, loads the compiled CLI, and in an
// unbuilt checkout says how to build.
import { existsSync } from 'node:fs';
import { refuseOldNode } from './node-version.js';

refuseOldNode(new URL('../package.json', import.meta.url));

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'spendline: the CLI is not built yet (sidecar/dist/cli.js is missing); run `npm install` (it builds too; after a pull, `npm run build`).\n',
  );
  process.exit(1);
}
await import(cli.href);
