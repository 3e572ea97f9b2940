import { type Counter, context, metrics } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { UsageContext } from '../context/usageContext.js';
import { SDK_SCOPE_NAME } from '../contract.js';
import type { Env } from '../telemetry/options.js';
import type { StatsKeeper } from '../telemetry/stats.js';
import { type BudgetAnswer, parseBudgetAnswer } from './budgetAnswer.js';
import { BudgetExceededError } from './budgetExceededError.js';

/** Budget enforcement of instrumented calls, against the sidecar's `/api/budgets/check`. */
export interface BudgetOptions {
  /** The sidecar's HTTP base URL (its `--listen` address), e.g. `http://127.0.0.1:9464`. Env `SPENDLINE_BUDGET_URL`. */
  url?: string;
  /** `block`: refuse an over-budget call with {@link BudgetExceededError}; `warn`: send it, mark the record. Default `block`; env `SPENDLINE_BUDGET_ENFORCE`. */
  enforce?: 'block' | 'warn';
  /** How long an answer is reused for the same scope (ms). Default 5000; env `SPENDLINE_BUDGET_TTL_MS`. */
  ttlMs?: number;
  /** When the check cannot be answered: `false` (default) lets calls through, `true` refuses them. Env `SPENDLINE_BUDGET_FAIL_CLOSED`. */
  failClosed?: boolean;
  /** Budget check request timeout (ms). Default 1000. */
  timeoutMs?: number;
  /** Bearer token of the sidecar's API. Env `SPENDLINE_API_TOKEN`. */
  token?: string;
  /** `service` value of the checked scope (default: none, so service-scoped budgets do not apply). */
  service?: string;
}

/** What the wrapper does with a call: go on, go on marked over budget, or refuse it. */
export type Gate = undefined | 'warn' | BudgetExceededError;

interface Cached {
  expiresAt: number;
  answer: BudgetAnswer;
}

/** Largest budget answer read (the sidecar's is a few hundred bytes): a bigger one is `unavailable`. */
const MAX_ANSWER_BYTES = 256 * 1024;
/** Scopes whose answers are kept: one distinct user per request must not grow the cache without end. */
const MAX_CACHED_SCOPES = 10_000;
const DEFAULT_TIMEOUT_MS = 1000;

const SCOPE_KEYS = [
  ['user', 'userId'],
  ['task', 'taskId'],
  ['tenant', 'tenantId'],
  ['feature', 'feature'],
] as const;

/**
 * Asks the sidecar whether a call's scope is over budget. One request per scope per TTL (an answer,
 * or a failure, is reused for `ttlMs`); concurrent callers of a scope share one in-flight request,
 * so a cache hit decides synchronously and the network is on a call's path at most once per TTL.
 */
export class BudgetGuard {
  readonly #cache = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<BudgetAnswer>>();
  #refusals: Counter | undefined;
  readonly #checkUrl: string;

  constructor(
    private readonly o: Required<Omit<BudgetOptions, 'token' | 'service'>> &
      Pick<BudgetOptions, 'token' | 'service'>,
    private readonly stats: StatsKeeper,
  ) {
    this.#checkUrl = `${o.url.replace(/\/+$/, '')}/api/budgets/check`;
  }

  /** Budget options from `options` and the environment; `undefined` when no budget URL is set. */
  static from(options: BudgetOptions | undefined, env: Env, stats: StatsKeeper): BudgetGuard | undefined {
    const url = options?.url ?? env.SPENDLINE_BUDGET_URL?.trim();
    if (!url) return undefined;
    const enforceEnv = env.SPENDLINE_BUDGET_ENFORCE?.trim().toLowerCase();
    const enforce = options?.enforce ?? (enforceEnv === 'warn' ? 'warn' : 'block');
    const ttlEnv = Number(env.SPENDLINE_BUDGET_TTL_MS);
    return new BudgetGuard(
      {
        url,
        enforce,
        ttlMs: options?.ttlMs ?? (Number.isFinite(ttlEnv) && ttlEnv >= 0 ? ttlEnv : 5000),
        failClosed: options?.failClosed ?? env.SPENDLINE_BUDGET_FAIL_CLOSED?.trim().toLowerCase() === 'true',
        timeoutMs: validTimeout(options?.timeoutMs),
        token: options?.token ?? env.SPENDLINE_API_TOKEN,
        service: options?.service,
      },
      stats,
    );
  }

  /** The decision for a call made in `ctx` to `provider`: synchronous on a cache hit. */
  gate(ctx: Readonly<UsageContext>, provider: string): Gate | Promise<Gate> {
    const params = new URLSearchParams();
    for (const [param, field] of SCOPE_KEYS) {
      const v = ctx[field];
      if (v) params.set(param, v);
    }
    params.set('provider', provider);
    if (this.o.service) params.set('service', this.o.service);
    const key = params.toString();
    const hit = this.#cache.get(key);
    if (hit && hit.expiresAt > Date.now()) return this.#decide(hit.answer, params);
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#ask(key, params);
      this.#inFlight.set(key, pending);
    }
    return pending.then((answer) => this.#decide(answer, params));
  }

  async #ask(key: string, params: URLSearchParams): Promise<BudgetAnswer> {
    let answer: BudgetAnswer;
    try {
      answer = await this.#fetch(params);
    } catch (err) {
      answer = {
        status: 'unavailable',
        reason: (err as Error)?.name === 'TimeoutError' ? 'timeout' : 'unreachable',
      };
    }
    if (answer.status === 'unavailable') this.stats.s.budgetChecksFailed++;
    this.stats.s.budgetChecks++;
    if (this.#cache.size >= MAX_CACHED_SCOPES) this.#prune();
    this.#cache.set(key, { expiresAt: Date.now() + this.o.ttlMs, answer });
    this.#inFlight.delete(key);
    return answer;
  }

  /** Scopes whose answers are kept (bounded by {@link MAX_CACHED_SCOPES}). */
  get cachedScopes(): number {
    return this.#cache.size;
  }

  /** Drops expired answers, then the oldest half if that was not enough (Map order is insertion order). */
  #prune(): void {
    const now = Date.now();
    for (const [k, v] of this.#cache) if (v.expiresAt <= now) this.#cache.delete(k);
    if (this.#cache.size < MAX_CACHED_SCOPES) return;
    let drop = this.#cache.size - MAX_CACHED_SCOPES / 2;
    for (const k of this.#cache.keys()) {
      if (drop-- <= 0) break;
      this.#cache.delete(k);
    }
  }

  #fetch(params: URLSearchParams): Promise<BudgetAnswer> {
    // The check is spendline's own traffic: no span of the host's HTTP instrumentation for it.
    return context.with(suppressTracing(context.active()), async (): Promise<BudgetAnswer> => {
      const res = await fetch(`${this.#checkUrl}?${params}`, {
        headers: this.o.token ? { authorization: `Bearer ${this.o.token}` } : {},
        signal: AbortSignal.timeout(this.o.timeoutMs),
        // The sidecar never redirects: a redirect would send the scope (user, tenant) elsewhere and
        // take that server's word for the budget.
        redirect: 'manual',
      });
      if (!res.ok) {
        await res.body?.cancel();
        return { status: 'unavailable', reason: `http_${res.status}` };
      }
      const text = await readBounded(res, MAX_ANSWER_BYTES);
      if (text === undefined) return { status: 'unavailable', reason: 'too_large' };
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { status: 'unavailable', reason: 'bad_json' };
      }
      return parseBudgetAnswer(body);
    });
  }

  #decide(answer: BudgetAnswer, params: URLSearchParams): Gate {
    if (answer.status === 'within') return undefined;
    if (answer.status === 'unavailable') {
      if (!this.o.failClosed) return undefined;
      this.#count('block', 'unavailable');
      return new BudgetExceededError('unavailable', Object.fromEntries(params), []);
    }
    if (this.o.enforce === 'warn') {
      this.#count('warn', 'exceeded');
      return 'warn';
    }
    this.#count('block', 'exceeded');
    return new BudgetExceededError('exceeded', Object.fromEntries(params), answer.budgets);
  }

  #count(enforce: 'block' | 'warn', reason: 'exceeded' | 'unavailable'): void {
    if (enforce === 'block') this.stats.s.budgetRefusals++;
    else this.stats.s.budgetWarnings++;
    // Created on first use: the host's NodeSDK registers its meter provider after the instrumentation exists.
    this.#refusals ??= metrics.getMeter(SDK_SCOPE_NAME).createCounter('spendline.budget.refusals', {
      description:
        'Instrumented model calls refused (enforce=block) or let through over budget (enforce=warn).',
      unit: '{call}',
    });
    this.#refusals.add(1, { 'spendline.budget.enforce': enforce, 'spendline.budget.reason': reason });
  }
}

/** A usable request timeout: a positive finite number of ms (else the default, so checks still run). */
function validTimeout(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 2_147_483_647
    ? Math.ceil(v)
    : DEFAULT_TIMEOUT_MS;
}

/** The body as text, or `undefined` (the rest cancelled) once it passes `limit` bytes. */
async function readBounded(res: Response, limit: number): Promise<string | undefined> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > limit) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString('utf8');
}
