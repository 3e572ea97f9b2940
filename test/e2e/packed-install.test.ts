import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningReceiver, startOtlpReceiver } from '../../sidecar/src/receiver/index.js';
import { metricSum, waitForMetric } from '../../sidecar/test/support/upProcess.js';
import { freePort, waitForHttpOk } from '../support/ports.js';

// What a team outside this repository can do today: `npm pack` both packages, install the tarballs
// into their own project next to the real `openai` client, instrument calls, run `spendline sidecar`
// from the installed bin. The scratch project lives in a temp dir outside the workspace.
//
// The install is offline (no network in tests): the scratch project gets a package-lock.json naming
// the tarballs and, for every other package, the exact version and integrity the repository's own
// lockfile pins, so npm takes each tarball from its cache by integrity. Install scripts are skipped
// (`--ignore-scripts`), and better-sqlite3's native addon is copied from the repository's install,
// which the same Node built from the same better-sqlite3 version (checked below): compiling SQLite
// again would only test node-gyp, at a minute or more per run.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

const tmp = mkdtempSync(join(tmpdir(), 'spendline-packed-'));
let receiver: RunningReceiver | undefined;
let sidecar: ChildProcess | undefined;
afterAll(async () => {
  sidecar?.kill('SIGKILL');
  await receiver?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** package.json and package-lock.json of a project depending on the two tarballs and openai. */
function writeScratchProject(app: string, tarballs: { sdk: string; sidecar: string }): void {
  const lock = readJson(join(ROOT, 'package-lock.json'));
  const sdk = readJson(join(ROOT, 'sdk', 'package.json'));
  const sidecarPkg = readJson(join(ROOT, 'sidecar', 'package.json'));
  const openaiVersion = sdk.devDependencies.openai as string;
  const dependencies = {
    '@spendline/sdk': `file:${relative(app, tarballs.sdk)}`,
    '@spendline/sidecar': `file:${relative(app, tarballs.sidecar)}`,
    openai: openaiVersion,
  };
  const packages: Record<string, unknown> = {};
  // Node's resolution over the lockfile's paths: a dependency of `node_modules/a` is
  // `node_modules/a/node_modules/d` when the lockfile nests one there (a version the top level does
  // not satisfy), else the next level up. Every entry keeps its own path, so npm finds the version
  // the repository installed and takes its tarball from the cache.
  const locate = (from: string, name: string): string => {
    for (let base = from; ; ) {
      const candidate = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      if (lock.packages[candidate] !== undefined) return candidate;
      if (base === '') throw new Error(`the repository's lockfile has no ${name} for ${from || 'the root'}`);
      const cut = base.lastIndexOf('/node_modules/');
      base = cut === -1 ? '' : base.slice(0, cut);
    }
  };
  const pending: [string, string][] = [
    ...Object.keys(sdk.dependencies),
    ...Object.keys(sidecarPkg.dependencies),
  ].map((name) => ['', name]);
  // The client at the version the SDK is tested with, wherever the repository installed it: a workspace
  // may hoist another major to the top (test/compat/prev-majors has openai 6). With any other version
  // in the scratch lockfile, npm asks the registry for openai's versions, which an offline install on a
  // machine whose npm cache holds only tarballs (a fresh clone's) cannot answer.
  // The same for a dependency a tarball pins to another version than the one at the top: npm nests it
  // under that package (the sidecar pins openai 6 for its demo).
  const entryAt = (name: string, version: string) => {
    const at = Object.keys(lock.packages).find(
      (path) => path.endsWith(`node_modules/${name}`) && lock.packages[path].version === version,
    );
    if (at === undefined) throw new Error(`the repository's lockfile has no ${name} ${version}`);
    const { dev: _d, devOptional: _o, peer: _p, ...entry } = lock.packages[at];
    // Its own dependencies would have to be placed for the scratch project's layout: none here.
    expect(entry.dependencies ?? {}).toEqual({});
    return entry;
  };
  packages['node_modules/openai'] = entryAt('openai', openaiVersion);
  while (pending.length > 0) {
    const [from, name] = pending.pop() as [string, string];
    if (name.startsWith('@spendline/')) continue;
    const path = locate(from, name);
    if (packages[path] !== undefined) continue;
    const entry = lock.packages[path];
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    packages[path] = kept;
    for (const dep of [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
    ])
      pending.push([path, dep]);
  }
  for (const [name, pkg] of [
    ['@spendline/sdk', sdk],
    ['@spendline/sidecar', sidecarPkg],
  ] as const) {
    for (const [dep, spec] of Object.entries(pkg.dependencies as Record<string, string>)) {
      const top = packages[`node_modules/${dep}`] as { version?: string } | undefined;
      if (top === undefined || !/^\d+\.\d+\.\d+$/.test(spec) || top.version === spec) continue;
      packages[`node_modules/${name}/node_modules/${dep}`] = entryAt(dep, spec);
    }
  }
  const tarballEntry = (pkg: Record<string, unknown>, file: string) => ({
    version: pkg.version,
    resolved: `file:${relative(app, file)}`,
    integrity: `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`,
    license: pkg.license,
    dependencies: pkg.dependencies,
    engines: pkg.engines,
    ...(pkg.bin ? { bin: pkg.bin } : {}),
  });
  packages['node_modules/@spendline/sdk'] = tarballEntry(sdk, tarballs.sdk);
  packages['node_modules/@spendline/sidecar'] = tarballEntry(sidecarPkg, tarballs.sidecar);
  const manifest = { name: 'scratch-service', version: '1.0.0', private: true, type: 'module', dependencies };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    join(app, 'package-lock.json'),
    `${JSON.stringify(
      {
        name: manifest.name,
        version: manifest.version,
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: manifest.name, version: manifest.version, dependencies }, ...packages },
      },
      null,
      2,
    )}\n`,
  );
}

// The service as a team writes it, from the README: plain ESM importing the installed packages.
const SERVICE = `import OpenAI from 'openai';
import { instrumentOpenAI, startTelemetry, withUsageContext } from '@spendline/sdk';
import { startFakeProvider } from '@spendline/sdk/testing';

const fake = await startFakeProvider();
const telemetry = startTelemetry({ serviceName: 'scratch-service' });
const openai = instrumentOpenAI(new OpenAI({ apiKey: 'sk-test', baseURL: fake.openaiBaseURL }));
const tokens = { input: 0, output: 0 };
for (let i = 0; i < 5; i++) {
  const res = await withUsageContext({ userId: 'u' + (i % 2), feature: 'packed-test' }, () =>
    openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi ' + i }] }),
  );
  tokens.input += res.usage.prompt_tokens;
  tokens.output += res.usage.completion_tokens;
}
const emb = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
tokens.input += emb.usage.prompt_tokens;
await telemetry.shutdown();
await fake.close();
console.log(JSON.stringify({ tokens, stats: telemetry.stats() }));
`;

// Types resolve through the packages' "exports" for a TypeScript consumer (NodeNext, strict).
const TYPED = `import OpenAI from 'openai';
import { instrumentOpenAI, startTelemetry, type TelemetryHandle } from '@spendline/sdk';
import type { RunningSidecar } from '@spendline/sidecar';
const handle: TelemetryHandle = startTelemetry({ serviceName: 'typed' });
const client: OpenAI = instrumentOpenAI(new OpenAI({ apiKey: 'x' }));
export const used: [TelemetryHandle, OpenAI, RunningSidecar | undefined] = [handle, client, undefined];
`;

describe('the packed packages, installed outside the repository', () => {
  it('instrument real openai calls and count them with the installed spendline sidecar', async () => {
    expect(relative(ROOT, tmp).startsWith('..')).toBe(true);
    const packs = join(tmp, 'packs');
    const app = join(tmp, 'service');
    mkdirSync(packs);
    mkdirSync(app);
    // npm pack runs each package's prepack (tsc -b), so the tarballs carry a fresh build.
    execFileSync('npm', ['pack', '-w', 'sdk', '-w', 'sidecar', '--pack-destination', packs, '--silent'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    expect(readdirSync(packs).sort()).toEqual(['spendline-sdk-0.1.0.tgz', 'spendline-sidecar-0.1.0.tgz']);
    const listing = execFileSync('tar', ['-tzf', join(packs, 'spendline-sidecar-0.1.0.tgz')], {
      encoding: 'utf8',
    });
    expect(listing).toContain('package/bin/spendline.js');
    expect(listing).toContain('package/dist/cli.js');
    expect(listing).toContain('package/public/index.html');
    expect(listing).not.toContain('package/src/');
    expect(listing).not.toContain('package/test/');

    writeScratchProject(app, {
      sdk: join(packs, 'spendline-sdk-0.1.0.tgz'),
      sidecar: join(packs, 'spendline-sidecar-0.1.0.tgz'),
    });
    execFileSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 180_000,
    });
    const installed = readJson(join(app, 'node_modules', 'better-sqlite3', 'package.json')).version;
    expect(installed).toBe(readJson(join(ROOT, 'node_modules', 'better-sqlite3', 'package.json')).version);
    const addon = join('node_modules', 'better-sqlite3', 'build', 'Release');
    mkdirSync(join(app, addon), { recursive: true });
    copyFileSync(join(ROOT, addon, 'better_sqlite3.node'), join(app, addon, 'better_sqlite3.node'));

    const bin = join(app, 'node_modules', '.bin', 'spendline');
    const help = execFileSync(bin, ['--help'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    expect(help).toContain('usage: spendline <command>');
    expect(help).toContain('npx spendline');

    writeFileSync(join(app, 'typed.ts'), TYPED);
    execFileSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--typeRoots',
        join(ROOT, 'node_modules', '@types'),
        'typed.ts',
      ],
      { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 },
    );

    // The collector's stand-in: OTLP/HTTP in, the collector's file-export format out.
    const exportFile = join(tmp, 'otlp', 'export.jsonl');
    mkdirSync(dirname(exportFile));
    receiver = await startOtlpReceiver({ host: '127.0.0.1', port: 0, filePath: exportFile });
    writeFileSync(join(app, 'service.mjs'), SERVICE);
    // Not execFileSync: the receiver runs on this process's event loop.
    const { stdout: serviceOut } = await promisify(execFile)(process.execPath, ['service.mjs'], {
      cwd: app,
      encoding: 'utf8',
      env: { ...process.env, OTLP_ENDPOINT: receiver.url },
      timeout: 60_000,
    });
    const result = JSON.parse(serviceOut.trim().split('\n').pop() ?? '{}') as {
      tokens: { input: number; output: number };
      stats: { recordsEmitted: number; logsExported: number; spansExported: number; logsFailed: number };
    };
    expect(result.stats).toMatchObject({
      recordsEmitted: 6,
      logsExported: 6,
      spansExported: 6,
      logsFailed: 0,
    });
    expect(result.tokens.input).toBeGreaterThan(0);

    const port = await freePort();
    const sidecarUrl = `http://127.0.0.1:${port}`;
    let out = '';
    sidecar = spawn(
      bin,
      [
        'sidecar',
        '--otlp-file',
        exportFile,
        '--state-dir',
        join(tmp, 'state'),
        '--listen',
        `127.0.0.1:${port}`,
      ],
      { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPENDLINE_API_TOKEN: '' } },
    );
    sidecar.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    sidecar.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await waitForHttpOk(`${sidecarUrl}/healthz`, 40_000, () => sidecar?.exitCode === null).catch(
      (err: Error) => {
        throw new Error(`the installed spendline sidecar did not start: ${err.message}\n${out}`);
      },
    );
    // Each call arrives twice (usage event and span) and is counted once.
    await waitForMetric(sidecarUrl, 'llm_requests_total', 6, 40_000);
    expect(await metricSum(sidecarUrl, 'llm_requests_total')).toBe(6);
    expect(await metricSum(sidecarUrl, 'llm_tokens_total')).toBe(result.tokens.input + result.tokens.output);
    const exited = new Promise<number | null>((done) => sidecar?.once('exit', (code) => done(code)));
    sidecar.kill('SIGTERM');
    expect(await exited).toBe(0);
    sidecar = undefined;
  }, 300_000);
});
