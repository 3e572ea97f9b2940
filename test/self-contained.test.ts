import { readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The project reads nothing outside its repository: fixtures are copied in with a README naming
// their source. This scans every source, test, bench and script file for a path that leaves the repo.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', '.spendline', 'test-results', 'out', 'fixtures']);
const SCANNED = /\.(ts|mts|cts|js|mjs|cjs|sh|json|ya?ml)$|^run$/;

function scannedFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) scannedFiles(join(dir, entry.name), out);
    } else if (SCANNED.test(entry.name) && entry.name !== 'package-lock.json') {
      out.push(join(dir, entry.name));
    }
  }
  return out;
}

const UP = ['..', ''].join('/');
const OUTSIDE_NAMES = [`${UP}shared`, '/work/', `shared${'/'}fixtures`, `shared${'/'}reference`];

/** Where a file's text points outside `root`: relative literals, `'..'` path segments, absolute paths. */
function pathsLeavingRepo(root: string, file: string, text: string): string[] {
  const found: string[] = [];
  const base = dirname(file);
  const outside = (target: string) => {
    const rel = relative(root, target);
    return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  };
  // '../../x' and './x' string literals (imports, new URL(..., import.meta.url), readFile).
  for (const m of text.matchAll(/['"`]((?:\.{1,2}\/)+[^'"`\s]*)['"`]/g)) {
    const literal = m[1] ?? '';
    if (outside(resolve(base, literal))) found.push(literal);
  }
  // join(here, '..', '..', '..', 'x') / resolve(...): count the '..' segments from the file's folder.
  for (const m of text.matchAll(/(?:join|resolve)\(([^()]*(?:\([^()]*\)[^()]*)*)\)/g)) {
    const args = m[1] ?? '';
    const ups = [...args.matchAll(/['"]\.\.['"]/g)].length;
    if (ups === 0) continue;
    if (outside(resolve(base, ...Array<string>(ups).fill('..')))) found.push(`${ups} × '..' in ${m[0]}`);
  }
  // Shell scripts: cd/paths with ../ that leave the repo.
  for (const m of text.matchAll(/(?:^|[\s=])((?:\.\.\/)+[\w.-]*)/gm)) {
    const p = m[1] ?? '';
    if (outside(resolve(base, p))) found.push(p);
  }
  for (const name of OUTSIDE_NAMES) if (text.includes(name)) found.push(name);
  return found;
}

describe('the repository is self-contained', () => {
  it('no source, test, bench, script or config file points outside the repository', () => {
    const files = scannedFiles(ROOT);
    expect(files.length).toBeGreaterThan(100);
    for (const dir of ['bench', 'scripts', '.ci', 'sdk/bench', 'sidecar/bench', 'test', 'sidecar/test']) {
      expect(
        files.some((f) => f.startsWith(join(ROOT, dir) + sep)),
        dir,
      ).toBe(true);
    }
    const offenders: string[] = [];
    for (const file of files) {
      if (file === fileURLToPath(import.meta.url)) continue;
      for (const p of pathsLeavingRepo(ROOT, file, readFileSync(file, 'utf8'))) {
        offenders.push(`${relative(ROOT, file)}: ${p}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the scan catches each way a file can leave the repository', () => {
    const file = join(ROOT, 'sidecar', 'test', 'x.test.ts');
    const up3 = Array<string>(3).fill('..').join('/');
    expect(
      pathsLeavingRepo(ROOT, file, `new URL('${up3}/shared/fixtures/a.json', import.meta.url)`),
    ).not.toEqual([]);
    expect(pathsLeavingRepo(ROOT, file, `join(here, '..', '..', '..', 'elsewhere')`)).not.toEqual([]);
    expect(pathsLeavingRepo(ROOT, file, `readFileSync('${['', 'work', 'x'].join('/')}/y')`)).not.toEqual([]);
    expect(pathsLeavingRepo(ROOT, join(ROOT, '.ci', 'run'), `cd ${up3}/other && npm test`)).not.toEqual([]);
    // Paths that stay inside are fine.
    expect(pathsLeavingRepo(ROOT, file, `new URL('./fixtures/collector/', import.meta.url)`)).toEqual([]);
    expect(pathsLeavingRepo(ROOT, file, `join(here, '..', '..', 'prometheus')`)).toEqual([]);
    expect(pathsLeavingRepo(ROOT, file, `import { x } from '../../test/support/ports.js'`)).toEqual([]);
  });
});
