import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/**
 * Deepest nesting a configuration file (price overrides, budgets) may have. Real files are a few
 * levels deep; the YAML parser recurses, so a hostile file thousands of levels deep would otherwise
 * overflow the stack or, at times, abort the process while formatting its error.
 */
export const MAX_CONFIG_NESTING = 64;
/** Deepest indentation (columns) of a YAML line: block nesting is nesting too. */
export const MAX_CONFIG_INDENT = 256;

/** Largest configuration file read (price overrides, budgets): real ones are a few KiB. */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

export type ConfigFileResult = { ok: true; text: string } | { ok: false; reason: string };

/**
 * Reads a configuration file's text: only a regular file (a FIFO would block the read forever, a
 * device such as /dev/zero never end) of at most MAX_CONFIG_FILE_BYTES. The reason is an error code
 * or a short phrase.
 */
export function readConfigFile(path: string): ConfigFileResult {
  try {
    const st = statSync(path);
    if (!st.isFile()) return { ok: false, reason: 'not a regular file' };
    if (st.size > MAX_CONFIG_FILE_BYTES)
      return { ok: false, reason: `larger than ${MAX_CONFIG_FILE_BYTES} bytes` };
    return { ok: true, text: readFileSync(path, 'utf8') };
  } catch (err) {
    return { ok: false, reason: (err as NodeJS.ErrnoException).code ?? 'read_error' };
  }
}

export type ConfigTextResult = { ok: true; doc: unknown } | { ok: false; reason: string };

/** Flow nesting (`[`, `{`) outside quoted strings; stops counting past `limit`. */
function flowDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== '') {
      if (quote === '"' && c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === ']' || c === '}') depth--;
  }
  return max;
}

function deepestIndent(text: string): number {
  let max = 0;
  for (const m of text.matchAll(/^[ \t]+/gm)) max = Math.max(max, m[0].length);
  return max;
}

/** Parses a configuration file's text as JSON or YAML, refusing documents nested too deeply first. */
export function parseConfigText(text: string, format: 'json' | 'yaml'): ConfigTextResult {
  if (flowDepth(text, MAX_CONFIG_NESTING) > MAX_CONFIG_NESTING)
    return { ok: false, reason: `nested deeper than ${MAX_CONFIG_NESTING} levels` };
  if (format === 'yaml' && deepestIndent(text) > MAX_CONFIG_INDENT)
    return { ok: false, reason: `indented deeper than ${MAX_CONFIG_INDENT} columns` };
  try {
    // A byte-order mark (Windows editors save one) is ignored in JSON, as the YAML parser does.
    return { ok: true, doc: format === 'json' ? JSON.parse(text.replace(/^\uFEFF/, '')) : parseYaml(text) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message.split('\n')[0] ?? 'parse error' };
  }
}
