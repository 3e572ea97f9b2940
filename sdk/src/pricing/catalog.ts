import type { ConditionalPrice, ModelInfo, ModelPrice, Provider } from '@pydantic/genai-prices';
import { findProvider } from '@pydantic/genai-prices';
import { type Rate, type RateCard, toScaledRate } from './rates.js';

/** A model's rate cards over time; `constraint` is genai-prices' start-date or time-of-day rule. */
export interface RateSchedule {
  variants: { constraint?: ConditionalPrice['constraint']; card: RateCard }[];
}

// genai-prices price keys feeding our partition. cache_write_mtok is the 5-minute write rate.
const TOKEN_KEYS: [keyof RateCard, string][] = [
  ['input', 'input_mtok'],
  ['output', 'output_mtok'],
  ['cacheRead', 'cache_read_mtok'],
  ['cacheWrite', 'cache_write_mtok'],
  ['reasoning', 'output_reasoning_mtok'],
];

function compileRate(value: ModelPrice[string], divisorPow10: number): Rate | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    const r = toScaledRate(value, divisorPow10);
    return r.ok ? r.rate : undefined;
  }
  const base = toScaledRate(value.base, divisorPow10);
  if (!base.ok) return undefined;
  const tiers: { start: number; price: bigint }[] = [];
  for (const t of [...value.tiers].sort((a, b) => a.start - b.start)) {
    const p = toScaledRate(t.price, divisorPow10);
    if (!p.ok) return undefined;
    tiers.push({ start: t.start, price: p.rate });
  }
  return { base: base.rate, tiers };
}

/** genai-prices' price table for one model at one time, as exact rates. */
export function compileModelPrice(price: ModelPrice): RateCard {
  const card: RateCard = {};
  for (const [ours, theirs] of TOKEN_KEYS) {
    const rate = compileRate(price[theirs], 0);
    if (rate !== undefined) card[ours] = rate;
  }
  const perPage = compileRate(price.input_document_kpages, 3);
  if (perPage !== undefined) card.perPage = perPage;
  const perRequest = compileRate(price.requests_kcount, 3);
  if (perRequest !== undefined) card.perRequest = perRequest;
  return card;
}

export function compileSchedule(model: ModelInfo): RateSchedule {
  if (!Array.isArray(model.prices)) return { variants: [{ card: compileModelPrice(model.prices) }] };
  return {
    variants: model.prices.map((c) =>
      c.constraint === undefined
        ? { card: compileModelPrice(c.prices) }
        : { constraint: c.constraint, card: compileModelPrice(c.prices) },
    ),
  };
}

function parseTimeOfDay(text: string): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m) return Number.NaN;
  const seconds = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  const offset = m[4] === 'Z' ? 0 : (Number(m[6]) * 60 + Number(m[7])) * 60 * (m[5] === '+' ? 1 : -1);
  return (seconds - offset + 86400) % 86400;
}

/** The rate card in force at `at`, with genai-prices' rule: last matching constraint wins, else the first. */
export function cardAt(schedule: RateSchedule, when: Date | undefined): RateCard {
  const v = schedule.variants;
  if (v.length === 1) return (v[0] as RateSchedule['variants'][number]).card;
  const at = when ?? new Date();
  for (let i = v.length - 1; i >= 0; i--) {
    const variant = v[i] as RateSchedule['variants'][number];
    const c = variant.constraint;
    if (c === undefined) return variant.card;
    if (c.type === 'start_date') {
      if (at.getTime() >= Date.parse(c.start_date)) return variant.card;
    } else {
      const now = at.getUTCHours() * 3600 + at.getUTCMinutes() * 60 + at.getUTCSeconds();
      const start = parseTimeOfDay(c.start_time);
      const end = parseTimeOfDay(c.end_time);
      const inside = end < start ? now >= start || now < end : now >= start && now < end;
      if (inside) return variant.card;
    }
  }
  return (v[0] as RateSchedule['variants'][number]).card;
}

function matches(logic: ModelInfo['match'], id: string): boolean {
  if ('or' in logic) return logic.or.some((l) => matches(l, id));
  if ('and' in logic) return logic.and.every((l) => matches(l, id));
  if ('equals' in logic) return id === logic.equals.toLowerCase();
  if ('starts_with' in logic) return id.startsWith(logic.starts_with.toLowerCase());
  if ('ends_with' in logic) return id.endsWith(logic.ends_with.toLowerCase());
  if ('contains' in logic) return id.includes(logic.contains.toLowerCase());
  if ('regex' in logic) return new RegExp(logic.regex).test(id);
  return false;
}

function matchInProvider(provider: Provider, id: string, followFallbacks: boolean): ModelInfo | undefined {
  const found = provider.models.find((m) => matches(m.match, id));
  if (found || !followFallbacks) return found;
  for (const fallbackId of provider.fallback_model_providers ?? []) {
    const fallback = findProvider({ providerId: fallbackId });
    const m = fallback && matchInProvider(fallback, id, false);
    if (m) return m;
  }
  return undefined;
}

const DATE_SUFFIX = /(-)(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)/g;

/**
 * genai-prices' model match for a lower-cased model id: the provider's match rules, then its
 * fallback providers (Azure -> OpenAI, ...), then the same with `-20240620` dates written `-2024-06-20`.
 */
export function matchCatalogModel(provider: Provider, modelId: string): ModelInfo | undefined {
  const direct = matchInProvider(provider, modelId, true);
  if (direct) return direct;
  const dashed = modelId.replace(
    DATE_SUFFIX,
    (_all, dash: string, y: string, mo: string, d: string) => `${dash}${y}-${mo}-${d}`,
  );
  return dashed === modelId ? undefined : matchInProvider(provider, dashed, true);
}
