import { parseConfigText, readConfigFile } from '../configText.js';
import { parseExactDecimal } from '../money.js';
import type { PriceOverride } from './types.js';

type PriceField = Exclude<keyof PriceOverride, 'provider' | 'model'>;

/** Accepted spellings of each price field: camelCase (API) and snake_case (files). */
const FIELD_ALIASES: Record<string, PriceField> = {
  inputMtok: 'inputMtok',
  input_mtok: 'inputMtok',
  outputMtok: 'outputMtok',
  output_mtok: 'outputMtok',
  cacheReadMtok: 'cacheReadMtok',
  cache_read_mtok: 'cacheReadMtok',
  cacheWriteMtok: 'cacheWriteMtok',
  cache_write_mtok: 'cacheWriteMtok',
  reasoningMtok: 'reasoningMtok',
  reasoning_mtok: 'reasoningMtok',
  perPage: 'perPage',
  per_page: 'perPage',
  perRequest: 'perRequest',
  per_request: 'perRequest',
};

export type OverridesResult = { ok: true; overrides: PriceOverride[] } | { ok: false; reason: string };

/** Validates one untrusted override entry; `where` names it in reasons ("prices[2]"). */
export function parsePriceOverride(
  raw: unknown,
  where: string,
): { ok: true; override: PriceOverride } | { ok: false; reason: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: `${where}: expected a mapping with provider, model and prices` };
  }
  const entry = raw as Record<string, unknown>;
  const { provider, model } = entry;
  if (typeof provider !== 'string' || provider.trim() === '') {
    return { ok: false, reason: `${where}.provider: required non-empty string` };
  }
  if (typeof model !== 'string' || model.trim() === '') {
    return { ok: false, reason: `${where}.model: required non-empty string` };
  }
  const override: PriceOverride = { provider: provider.trim(), model: model.trim() };
  let priced = 0;
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'provider' || key === 'model') continue;
    const field = FIELD_ALIASES[key];
    if (field === undefined) {
      return {
        ok: false,
        reason: `${where}: unknown key "${key}" (expected input_mtok, output_mtok, cache_read_mtok, cache_write_mtok, reasoning_mtok, per_page, per_request)`,
      };
    }
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' && typeof value !== 'number') {
      return { ok: false, reason: `${where}.${key}: expected a decimal USD amount, got ${typeof value}` };
    }
    const parsed = parseExactDecimal(value);
    if (!parsed.ok) return { ok: false, reason: `${where}.${key}: ${parsed.reason}` };
    if (parsed.value.units < 0n)
      return { ok: false, reason: `${where}.${key}: negative price ${String(value)}` };
    if (parsed.value.scale > 15) {
      return { ok: false, reason: `${where}.${key}: more than 15 decimal places: ${String(value)}` };
    }
    if (override[field] !== undefined) return { ok: false, reason: `${where}: ${field} given twice` };
    override[field] = typeof value === 'number' ? String(value) : value.trim();
    priced++;
  }
  if (priced === 0) return { ok: false, reason: `${where}: no price given` };
  return { ok: true, override };
}

/** Validates a list of overrides given as objects (API callers). */
export function parsePriceOverrides(raw: readonly unknown[]): OverridesResult {
  const overrides: PriceOverride[] = [];
  for (let i = 0; i < raw.length; i++) {
    const r = parsePriceOverride(raw[i], `prices[${i}]`);
    if (!r.ok) return r;
    overrides.push(r.override);
  }
  return { ok: true, overrides };
}

/** Reads `{ prices: [...] }` from a JSON or YAML file (by extension; YAML otherwise, which also reads JSON). */
export function loadPriceOverrides(path: string): OverridesResult {
  const file = readConfigFile(path);
  if (!file.ok) return { ok: false, reason: `cannot read price overrides ${path}: ${file.reason}` };
  const text = file.text;
  const json = path.toLowerCase().endsWith('.json');
  const docText = parseConfigText(text, json ? 'json' : 'yaml');
  if (!docText.ok)
    return { ok: false, reason: `${path}: invalid ${json ? 'JSON' : 'YAML'}: ${docText.reason}` };
  const doc = docText.doc;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !('prices' in doc)) {
    return { ok: false, reason: `${path}: expected a top-level "prices" list` };
  }
  const prices = (doc as { prices: unknown }).prices;
  if (!Array.isArray(prices)) return { ok: false, reason: `${path}: "prices" must be a list` };
  const parsed = parsePriceOverrides(prices);
  return parsed.ok ? parsed : { ok: false, reason: `${path}: ${parsed.reason}` };
}
