import { AsyncLocalStorage } from 'node:async_hooks';
import type { AttributeValue } from '@opentelemetry/api';
import { ATTR } from '../contract.js';
import { capValueLength } from '../valueLength.js';

/** Who and what a model call is for. Every record emitted inside {@link withUsageContext} carries these. */
export interface UsageContext {
  userId?: string;
  sessionId?: string;
  feature?: string;
  taskId?: string;
  tenantId?: string;
  agentName?: string;
  executionPath?: string;
  conversationId?: string;
}

/** Context field → record attribute (names from the contract). */
export const USAGE_CONTEXT_ATTR: Readonly<Record<keyof UsageContext, string>> = {
  userId: ATTR.userId,
  sessionId: ATTR.sessionId,
  feature: ATTR.feature,
  taskId: ATTR.taskId,
  tenantId: ATTR.tenantId,
  agentName: ATTR.agentName,
  executionPath: ATTR.executionPath,
  conversationId: ATTR.conversationId,
};

const CONTEXT_KEYS = Object.keys(USAGE_CONTEXT_ATTR) as (keyof UsageContext)[];
const storage = new AsyncLocalStorage<Readonly<UsageContext>>();

/**
 * Keeps only the known keys whose values are non-empty strings (numbers are stringified), each cut to
 * the sidecar's longest dimension value (a prefix and a hash of the whole, so long ids stay distinct).
 */
function cleanContext(input: UsageContext): UsageContext {
  const out: UsageContext = {};
  for (const key of CONTEXT_KEYS) {
    const v: unknown = input[key];
    if (typeof v === 'string' && v !== '') out[key] = capValueLength(v);
    else if (typeof v === 'number' && Number.isFinite(v)) out[key] = String(v);
  }
  return out;
}

/**
 * Runs `fn` with `context` merged over the enclosing usage context (inner keys win). The context
 * follows `fn` across awaits, timers and callbacks, and stays separate between concurrent requests.
 */
export function withUsageContext<R>(context: UsageContext, fn: () => R): R {
  let merged: UsageContext;
  try {
    merged = { ...storage.getStore(), ...cleanContext(context ?? {}) };
  } catch {
    merged = storage.getStore() ?? {};
  }
  return storage.run(merged, fn);
}

/** The usage context in effect here (empty object when none). */
export function currentUsageContext(): Readonly<UsageContext> {
  return storage.getStore() ?? EMPTY;
}
const EMPTY: Readonly<UsageContext> = Object.freeze({});

/** Writes the context's attributes into `attrs`. */
export function addContextAttributes(
  ctx: Readonly<UsageContext>,
  attrs: Record<string, AttributeValue>,
): void {
  for (const key in ctx) {
    const v = ctx[key as keyof UsageContext];
    if (v !== undefined) attrs[USAGE_CONTEXT_ATTR[key as keyof UsageContext]] = v;
  }
}

/** A Connect/Express-style `(req, res, next)` middleware; no Express import needed. */
export type UsageContextMiddleware<Req> = (req: Req, res: unknown, next: (err?: unknown) => void) => void;

/**
 * Express (or Connect, or any `(req, res, next)` framework) middleware: `derive(req)` returns the
 * request's usage context, and every handler after this one runs inside it. If `derive` throws,
 * the request proceeds without a context rather than failing.
 *
 * ```ts
 * app.use(usageContextMiddleware((req) => ({ userId: req.get('x-user-id'), feature: 'search' })));
 * ```
 */
export function usageContextMiddleware<Req = unknown>(
  derive: (req: Req) => UsageContext,
): UsageContextMiddleware<Req> {
  return (req, _res, next) => {
    let ctx: UsageContext;
    try {
      ctx = derive(req) ?? {};
    } catch {
      ctx = {};
    }
    withUsageContext(ctx, () => next());
  };
}
