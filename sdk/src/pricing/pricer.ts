import type { ModelInfo, Provider } from '@pydantic/genai-prices';
import { cardAt, compileSchedule, matchCatalogModel, type RateSchedule } from './catalog.js';
import { computeCost, computeCostNano } from './computeCost.js';
import { loadPriceOverrides, parsePriceOverrides } from './overrides.js';
import { findCatalogProvider, providerKey } from './providers.js';
import { baseRate, type Rate, type RateCard, type RateKey, rateToDecimal, toScaledRate } from './rates.js';
import type {
  ModelRef,
  PriceOverride,
  PriceResult,
  Pricer,
  UnitPrices,
  UnpricedReason,
  UsageToPrice,
} from './types.js';

/** Resolved (provider, model): a rate schedule to price with, or why there is none. */
type Resolved =
  | { ok: true; schedule: RateSchedule; source: 'catalog' | 'override'; providerId: string; modelId: string }
  | { ok: false; reason: UnpricedReason };

const MEMO_LIMIT = 4096;

const OVERRIDE_FIELDS: [keyof PriceOverride, RateKey][] = [
  ['inputMtok', 'input'],
  ['outputMtok', 'output'],
  ['cacheReadMtok', 'cacheRead'],
  ['cacheWriteMtok', 'cacheWrite'],
  ['reasoningMtok', 'reasoning'],
  ['perPage', 'perPage'],
  ['perRequest', 'perRequest'],
];

function overrideCard(o: PriceOverride): RateCard {
  const card: RateCard = {};
  for (const [field, key] of OVERRIDE_FIELDS) {
    const value = o[field];
    if (value === undefined) continue;
    const r = toScaledRate(value);
    if (!r.ok) throw new Error(`price override ${o.provider}/${o.model} ${field}: ${r.reason}`);
    card[key] = r.rate;
  }
  return card;
}

/** Splits `openai/gpt-4o` into a provider name and a model, when there is a prefix. */
function splitPrefix(model: string): { prefix: string; rest: string } | undefined {
  const slash = model.indexOf('/');
  if (slash <= 0 || slash === model.length - 1) return undefined;
  return { prefix: model.slice(0, slash), rest: model.slice(slash + 1) };
}

export function createPricer(options?: { overrides?: PriceOverride[] | string }): Pricer {
  let overrideList: PriceOverride[] = [];
  if (typeof options?.overrides === 'string') {
    const loaded = loadPriceOverrides(options.overrides);
    if (!loaded.ok) throw new Error(`price overrides: ${loaded.reason}`);
    overrideList = loaded.overrides;
  } else if (options?.overrides) {
    const parsed = parsePriceOverrides(options.overrides);
    if (!parsed.ok) throw new Error(`price overrides: ${parsed.reason}`);
    overrideList = parsed.overrides;
  }
  // provider key -> lower-cased model -> override card (later entries win)
  const overrides = new Map<string, Map<string, { card: RateCard; model: string }>>();
  for (const o of overrideList) {
    const key = providerKey(o.provider);
    let byModel = overrides.get(key);
    if (!byModel) {
      byModel = new Map();
      overrides.set(key, byModel);
    }
    byModel.set(o.model.toLowerCase(), { card: overrideCard(o), model: o.model });
  }

  const memo = new Map<string, Resolved>();
  // A service mostly prices one model after another: comparing two short strings is cheaper than
  // building the memo key and hashing it (a model name parsed from each response is a new string).
  let lastProvider: string | undefined;
  let lastModel: string | undefined;
  let lastHit: Resolved | undefined;

  function withOverride(
    pKey: string,
    catalogModel: ModelInfo | undefined,
    model: string,
  ): Resolved | undefined {
    const byModel = overrides.get(pKey);
    const override = byModel?.get(model) ?? (catalogModel && byModel?.get(catalogModel.id.toLowerCase()));
    if (catalogModel && !override) {
      return {
        ok: true,
        schedule: compileSchedule(catalogModel),
        source: 'catalog',
        providerId: pKey,
        modelId: catalogModel.id,
      };
    }
    if (!override) return undefined;
    const base = catalogModel ? compileSchedule(catalogModel) : { variants: [{ card: {} }] };
    // Override fields replace catalog fields in every time variant; the rest stay catalog rates.
    const schedule: RateSchedule = {
      variants: base.variants.map((v) => ({ ...v, card: { ...v.card, ...override.card } })),
    };
    return {
      ok: true,
      schedule,
      source: 'override',
      providerId: pKey,
      modelId: catalogModel?.id ?? override.model,
    };
  }

  function resolveIn(pKey: string, provider: Provider | undefined, model: string): Resolved | undefined {
    return withOverride(pKey, provider && matchCatalogModel(provider, model), model);
  }

  function resolve(providerName: string, modelName: string): Resolved {
    const provider = findCatalogProvider(providerName);
    const pKey = provider?.id ?? providerName.trim().toLowerCase();
    const model = modelName.trim().toLowerCase();
    const direct = resolveIn(pKey, provider, model);
    if (direct) return direct;
    const split = splitPrefix(model);
    if (split) {
      // `openai/gpt-4o` under provider openai, or under a router whose catalog lacks the full id.
      const prefixed = findCatalogProvider(split.prefix);
      const viaPrefix = prefixed ? resolveIn(prefixed.id, prefixed, split.rest) : undefined;
      const viaSame = resolveIn(pKey, provider, split.rest);
      const found = (prefixed?.id === pKey ? viaSame : viaPrefix) ?? viaSame ?? viaPrefix;
      if (found) return found;
    }
    if (!provider && !overrides.has(pKey)) return { ok: false, reason: 'unknown_provider' };
    return { ok: false, reason: 'unknown_model' };
  }

  function lookup(ref: ModelRef): Resolved {
    if (lastHit !== undefined && ref.model === lastModel && ref.provider === lastProvider) return lastHit;
    const key = `${ref.provider}\u0000${ref.model}`;
    let hit = memo.get(key);
    if (hit === undefined) {
      hit = resolve(ref.provider, ref.model);
      if (memo.size >= MEMO_LIMIT) {
        const oldest = memo.keys().next().value;
        if (oldest !== undefined) memo.delete(oldest);
      }
      memo.set(key, hit);
    }
    lastProvider = ref.provider;
    lastModel = ref.model;
    lastHit = hit;
    return hit;
  }

  function toUnitPrices(providerId: string, modelId: string, card: RateCard): UnitPrices | undefined {
    if (card.input === undefined || card.output === undefined) return undefined;
    const dec = (r: Rate | undefined) => (r === undefined ? undefined : rateToDecimal(baseRate(r)));
    const out: UnitPrices = {
      providerId,
      modelId,
      inputMtok: dec(card.input) as string,
      outputMtok: dec(card.output) as string,
    };
    const optional: [keyof UnitPrices, Rate | undefined][] = [
      ['cacheReadMtok', card.cacheRead],
      ['cacheWriteMtok', card.cacheWrite],
      ['reasoningMtok', card.reasoning],
      ['perPage', card.perPage],
      ['perRequest', card.perRequest],
    ];
    for (const [k, r] of optional) if (r !== undefined) out[k] = dec(r) as string;
    return out;
  }

  return {
    priceUsage(usage: UsageToPrice, ref: ModelRef): PriceResult {
      const r = lookup(ref);
      if (!r.ok) return { status: 'unpriced', reason: r.reason };
      const card = cardAt(r.schedule, ref.at);
      return computeCost(usage, card, { source: r.source, providerId: r.providerId, modelId: r.modelId });
    },
    costNanoUsd(usage: UsageToPrice, ref: ModelRef): number | null {
      const r = lookup(ref);
      return r.ok ? computeCostNano(usage, cardAt(r.schedule, ref.at)) : null;
    },
    unitPrices(ref: ModelRef): UnitPrices | undefined {
      const r = lookup(ref);
      if (!r.ok) return undefined;
      return toUnitPrices(r.providerId, r.modelId, cardAt(r.schedule, ref.at));
    },
    listModels(providerName: string, at?: Date): UnitPrices[] {
      const when = at ?? new Date();
      const provider = findCatalogProvider(providerName);
      const pKey = provider?.id ?? providerName.trim().toLowerCase();
      const seen = new Set<string>();
      const list: UnitPrices[] = [];
      const add = (r: Resolved | undefined) => {
        if (!r?.ok || seen.has(r.modelId.toLowerCase())) return;
        seen.add(r.modelId.toLowerCase());
        const u = toUnitPrices(r.providerId, r.modelId, cardAt(r.schedule, when));
        if (u) list.push(u);
      };
      for (const m of provider?.models ?? []) add(withOverride(pKey, m, m.id.toLowerCase()));
      for (const o of overrides.get(pKey)?.values() ?? [])
        add(resolveIn(pKey, provider, o.model.toLowerCase()));
      return list;
    },
  };
}
