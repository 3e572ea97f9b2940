import { context as otelContext } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { BudgetExceededError } from '../budget/budgetExceededError.js';
import type { Gate } from '../budget/budgetGuard.js';
import { activeRuntime, type TelemetryRuntime } from '../telemetry/runtime.js';
import { type ApiPromiseLike, isApiPromise, observeApiPromise } from './apiPromise.js';
import { type CallSpec, ModelCall } from './modelCall.js';

/** How one client method is observed. */
export interface MethodInstrumentation {
  /** Describes the call (`self`: the method's receiver); `undefined` leaves it uninstrumented (e.g. no model given). */
  spec(body: Record<string, unknown>, self: unknown): CallSpec | undefined;
  /**
   * Run the call with tracing suppressed: for clients that emit their own GenAI span (the Anthropic
   * SDK does), which the sidecar would count as a second record of the same call.
   */
  suppressInnerSpans?: boolean;
  /** May return a changed request body (e.g. to ask for streamed usage), never mutating the caller's. */
  prepare?(body: Record<string, unknown>): Record<string, unknown>;
  /**
   * Called with the parsed result when the caller reads it. Returns nothing and changes nothing,
   * except for results that can only be observed by replacing them (a plain async generator), which
   * it returns.
   */
  onResult(
    call: ModelCall,
    data: unknown,
    rt: TelemetryRuntime,
    body: Record<string, unknown>,
    sentBody: Record<string, unknown>,
  ): unknown;
}

const PATCHED = Symbol.for('spendline.instrumented');
/** Set on a wrapper whose instrumentation was disabled while another wrapper sat on top of it. */
const OFF = Symbol.for('spendline.instrumented.off');

export type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;
type Marked = AnyMethod & { [PATCHED]?: boolean; [OFF]?: boolean; __original?: unknown };

/** Wrappers looked through for one of ours (another instrumentation may have wrapped ours). */
const MAX_WRAPPER_DEPTH = 16;

/**
 * The live spendline wrapper `fn` is or wraps, if any: `fn` itself, or a wrapper found through the
 * `__original` chain that shimmer (which every OpenTelemetry instrumentation's `_wrap` uses) leaves
 * on the wrappers it makes — so a method another instrumentation wrapped on top of ours is still
 * recognised, and no call is recorded twice.
 */
export function spendlineWrapper(fn: unknown): AnyMethod | undefined {
  let f = fn as Marked | undefined;
  for (let depth = 0; typeof f === 'function' && depth < MAX_WRAPPER_DEPTH; depth++) {
    if (f[PATCHED] === true) return f;
    f = f.__original as Marked | undefined;
  }
  return undefined;
}

/** True when `fn` is (or wraps) a spendline wrapper that records (so no call is recorded twice). */
export function isInstrumented(fn: unknown): boolean {
  const w = spendlineWrapper(fn) as Marked | undefined;
  return w !== undefined && w[OFF] !== true;
}

/** Turns a spendline wrapper's recording off (it only forwards) or back on. */
export function setWrapperOn(wrapper: AnyMethod, on: boolean): void {
  (wrapper as Marked)[OFF] = !on;
}

/** The method a spendline wrapper calls. */
export function originalOf(wrapper: AnyMethod): unknown {
  return (wrapper as Marked).__original;
}

/**
 * Replaces `target[name]` (an instance's own property, so other clients are untouched) with a
 * wrapper that records the call and otherwise behaves exactly like the original: same return
 * object type, same errors. Instrumentation failures are counted, never thrown.
 */
export function patchMethod(target: unknown, name: string, how: MethodInstrumentation): boolean {
  if (typeof target !== 'object' || target === null) return false;
  const holder = target as Record<string, unknown>;
  const original = holder[name];
  if (typeof original !== 'function') return false;
  if (isInstrumented(original)) return true;
  Object.defineProperty(holder, name, {
    value: wrapMethod(original as AnyMethod, how),
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return true;
}

/**
 * The recording wrapper of one client method (used on an instance by `instrumentOpenAI` and on a
 * class prototype by `SpendlineInstrumentation`). With no telemetry running it only forwards.
 */
export function wrapMethod(originalFn: AnyMethod, how: MethodInstrumentation): AnyMethod {
  const wrapped: Marked = function (this: unknown, ...args: unknown[]): unknown {
    const rt = activeRuntime();
    const body = args[0];
    if (!rt || typeof body !== 'object' || body === null || wrapped[OFF] === true)
      return originalFn.apply(this, args);
    let call: ModelCall | undefined;
    let sent = body as Record<string, unknown>;
    let gate: Gate | Promise<Gate>;
    try {
      const spec = how.spec(sent, this);
      if (spec) {
        call = new ModelCall(rt, spec);
        if (how.prepare) sent = how.prepare(sent);
        gate = rt.budget?.gate(call.usageContext, spec.provider);
      }
    } catch {
      rt.stats.s.internalErrors++;
      call = undefined;
      sent = body as Record<string, unknown>;
    }
    if (!call) return originalFn.apply(this, args);
    const c = call;
    const forwarded = sent === body ? args : [sent, ...args.slice(1)];
    const run = (): unknown =>
      invoke(this, originalFn, forwarded, how, c, rt, body as Record<string, unknown>, sent);
    if (gate === undefined) return run();
    if (gate === 'warn') {
      c.overBudget();
      return run();
    }
    if (gate instanceof BudgetExceededError) return deferred(Promise.reject(gate));
    return deferred(
      gate.then((g) => {
        if (g instanceof BudgetExceededError) throw g;
        if (g === 'warn') c.overBudget();
        return { value: run() };
      }),
    );
  };
  wrapped[PATCHED] = true;
  // What the wrapper calls, under shimmer's name, so a wrapper found under another instrumentation's
  // can be looked through (no `__wrapped`: OpenTelemetry's `_wrap` would unwrap — remove — a wrapper
  // marked so before putting its own, and one instrumentation would silently turn another off).
  Object.defineProperty(wrapped, '__original', { value: originalFn, configurable: true });
  return wrapped;
}

/** Calls the client method and observes its result (a Stainless APIPromise, or a plain promise). */
function invoke(
  self: unknown,
  originalFn: AnyMethod,
  forwarded: unknown[],
  how: MethodInstrumentation,
  call: ModelCall,
  rt: TelemetryRuntime,
  original: Record<string, unknown>,
  sent: Record<string, unknown>,
): unknown {
  let result: unknown;
  try {
    // The request is sent inside the call's span: HTTP client spans, and another GenAI
    // instrumentation's span of the same call, are its children (the sidecar counts the call once).
    const inSpan = call.begin();
    result = otelContext.with(how.suppressInnerSpans ? suppressTracing(inSpan) : inSpan, () =>
      originalFn.apply(self, forwarded),
    );
  } catch (err) {
    call.finish({ error: err });
    throw err;
  }
  const observe = (data: unknown): unknown => {
    try {
      const replaced = how.onResult(call, data, rt, original, sent);
      return replaced === undefined ? data : replaced;
    } catch {
      rt.stats.s.internalErrors++;
      return data;
    }
  };
  try {
    if (isApiPromise(result)) {
      return observeApiPromise(
        result as ApiPromiseLike<unknown>,
        observe,
        (err) => call.finish({ error: err }),
        () => call.finish({ usageUnknown: true }),
      );
    }
    if (result instanceof Promise) {
      return result.then(observe, (err: unknown) => {
        call.finish({ error: err });
        throw err;
      });
    }
    // Another instrumentation under ours may return its own stream instead of the client's promise
    // (OpenLLMetry returns an async generator for a streamed chat call): observed the same way.
    if (typeof result === 'object' && result !== null && Symbol.asyncIterator in result)
      return observe(result);
    return result;
  } catch {
    rt.stats.s.internalErrors++;
    return result;
  }
}

/**
 * A call that waits for its budget check: a real Promise of the call's result that also offers
 * the Stainless `asResponse()` / `withResponse()`, so callers see the same surface. Like the client's
 * own `APIPromise`, it reads (parses) the response only when awaited: `asResponse()` alone hands the
 * caller an unread body.
 */
class DeferredCall extends Promise<unknown> {
  readonly #box: Promise<{ value: unknown }>;
  #result: Promise<unknown> | undefined;

  constructor(box: Promise<{ value: unknown }>) {
    super((resolve) => resolve(undefined));
    this.#box = box;
    // A caller that only uses asResponse() or withResponse() handles the error there.
    box.catch(() => undefined);
  }

  /** The call's result: awaiting the client's promise starts its parse, so only once asked. */
  #value(): Promise<unknown> {
    this.#result ??= this.#box.then((b) => b.value);
    return this.#result;
  }

  // biome-ignore lint/suspicious/noThenProperty: a Promise subclass, as the clients' APIPromise is.
  override then<A = unknown, B = never>(
    onfulfilled?: ((value: unknown) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#value().then(onfulfilled, onrejected);
  }

  override catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<unknown> {
    return this.#value().catch(onrejected);
  }

  override finally(onfinally?: (() => void) | null): Promise<unknown> {
    return this.#value().finally(onfinally);
  }

  asResponse(): Promise<unknown> {
    return this.#raw('asResponse');
  }

  withResponse(): Promise<unknown> {
    return this.#raw('withResponse');
  }

  #raw(name: 'asResponse' | 'withResponse'): Promise<unknown> {
    return this.#box.then((b) => {
      const m = (b.value as Record<string, unknown> | null)?.[name];
      if (typeof m !== 'function') throw new TypeError(`${name} is not available on this call`);
      return (m as () => unknown).call(b.value);
    });
  }
}

function deferred(box: Promise<{ value: unknown }>): Promise<unknown> {
  return new DeferredCall(box);
}
