/**
 * Every relative link in the repository's Markdown resolves: the file exists, and a `#anchor` names a
 * heading of the target (GitHub's slug rule). The docs tables of README.md and docs/README.md list
 * every doc in docs/. Only the files' text is read; no network.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Tracked Markdown files (git ls-files), else the known set when git is unavailable. */
function markdownFiles(): string[] {
  try {
    return execFileSync('git', ['ls-files', '*.md', '**/*.md'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f !== '' && !f.includes('node_modules/') && existsSync(join(ROOT, f)));
  } catch {
    return ['README.md', 'sdk/README.md', 'sidecar/README.md', ...docs().map((d) => `docs/${d}`)];
  }
}

function docs(): string[] {
  return readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
}

/** The text outside fenced code blocks and inline code spans. */
function prose(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered. */
function anchorsOf(md: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  const noCode = md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const m of noCode.matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const text = (m[1] ?? '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .replace(/[*`]/g, '');
    const base = text
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of md.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1] ?? '');
  return out;
}

function links(md: string): string[] {
  const out: string[] = [];
  for (const m of prose(md).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push(m[1] ?? '');
  for (const m of prose(md).matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm))
    out.push(m[1] ?? '');
  return out;
}

describe('documentation links', () => {
  it('every relative link in tracked Markdown resolves to a file and, with #anchor, to a heading', () => {
    const files = markdownFiles();
    expect(files).toContain('README.md');
    expect(files).toContain('docs/api.md');
    const broken: string[] = [];
    let checked = 0;
    for (const file of files) {
      const md = readFileSync(join(ROOT, file), 'utf8');
      for (const link of links(md)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
        checked++;
        const [path = '', anchor] = link.split('#', 2);
        const target = path === '' ? join(ROOT, file) : resolve(dirname(join(ROOT, file)), decodeURI(path));
        if (!existsSync(target)) {
          broken.push(`${file}: ${link} (no such file)`);
          continue;
        }
        if (anchor === undefined || anchor === '' || statSync(target).isDirectory()) continue;
        if (!target.endsWith('.md')) continue; // line anchors (#L10) of source files
        if (!anchorsOf(readFileSync(target, 'utf8')).has(decodeURIComponent(anchor).toLowerCase()))
          broken.push(`${file}: ${link} (no heading #${anchor} in ${relative(ROOT, target)})`);
      }
    }
    expect(broken).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it('README.md and docs/README.md list every doc in docs/', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const index = readFileSync(join(ROOT, 'docs/README.md'), 'utf8');
    const missing: string[] = [];
    for (const d of docs()) {
      if (d === 'README.md') continue;
      if (!readme.includes(`](docs/${d})`)) missing.push(`README.md: docs/${d}`);
      if (!index.includes(`](${d})`)) missing.push(`docs/README.md: ${d}`);
    }
    expect(missing).toEqual([]);
  });

  it('derives GitHub anchors from headings', () => {
    const a = anchorsOf(
      '# Usage API\n## `GET /api/usage/users/:id`, x\n## Scale\n## Scale\n```\n# not\n```\n',
    );
    expect([...a]).toEqual(['usage-api', 'get-apiusageusersid-x', 'scale', 'scale-1']);
  });
});
