#!/usr/bin/env node
// `npm start [-- flags]`: builds, then runs `spendline up` in this process.
//
// A process manager signals npm (systemd, a container runtime, `kill <npm pid>`); npm forwards
// SIGINT/SIGTERM to the script's process, which is this one (npm's `sh -c` execs a single command).
// Running `up` in-process means the signal reaches the code that stops the receiver, the sidecar and
// Prometheus/Alertmanager (its children) and prints the final counts. If the process above us dies
// without passing a signal on (SIGKILL to npm, SIGTERM to a shell that did not exec), we notice the
// new parent and stop the same way, as on SIGHUP.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { refuseOldNode } from '../sidecar/bin/node-version.js';

refuseOldNode(new URL('../package.json', import.meta.url));

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('npm start: the dependencies are not installed; run `npm install` first.\n');
  process.exit(1);
}

const build = spawn(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
let signalledDuringBuild;
const stopBuild = (signal) => {
  signalledDuringBuild = signal;
  build.kill(signal);
};
for (const s of SIGNALS) process.on(s, stopBuild);
const buildCode = await new Promise((done) => build.once('exit', (code) => done(code ?? 1)));
for (const s of SIGNALS) process.off(s, stopBuild);
if (signalledDuringBuild !== undefined) {
  process.stderr.write(`npm start: ${signalledDuringBuild} during the build; nothing was started\n`);
  process.exit(1);
}
if (buildCode !== 0) {
  process.stderr.write('npm start: the build failed (see above)\n');
  process.exit(buildCode);
}

const parent = process.ppid;
const parentWatch = setInterval(() => {
  if (process.ppid !== parent) {
    clearInterval(parentWatch);
    process.stderr.write(
      `npm start: the process that started us (pid ${parent}) is gone; stopping as on SIGHUP\n`,
    );
    process.kill(process.pid, 'SIGHUP');
  }
}, 250);
parentWatch.unref();

const up = await import(pathToFileURL(join(root, 'sidecar', 'dist', 'commands', 'up.js')).href);
process.exitCode = await up.run(process.argv.slice(2));
clearInterval(parentWatch);
