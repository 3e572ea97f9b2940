import { context as otelContext } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { activeRuntime, type TelemetryRuntime } from '../telemetry/runtime.js';
import { type ApiPromiseLike, isApiPromise, observeApiPromise } from './apiPromise.js';
import { type CallSpec, ModelCall } from './modelCall.js';

/** How one client method is observed. */
export interface MethodInstrumentation {
  /** Describes the call; `undefined` leaves it uninstrumented (e.g. no model given). */
  spec(body: Record<string, unknown>): CallSpec | undefined;
  /**
   * Run the call with tracing suppressed: for clients that emit their own GenAI span (the Anthropic
   * SDK does), which the sidecar would count as a second record of the same call.
   */
  suppressInnerSpans?: boolean;
  /** May return a changed request body (e.g. to ask for streamed usage), never mutating the caller's. */
  prepare?(body: Record<string, unknown>): Record<string, unknown>;
  /** Called with the parsed result when the caller reads it; returns nothing, changes nothing. */
  onResult(
    call: ModelCall,
    data: unknown,
    rt: TelemetryRuntime,
    body: Record<string, unknown>,
    sentBody: Record<string, unknown>,
  ): void;
}

const PATCHED = Symbol.for('spendline.instrumented');

export type AnyMethod = (this: unknown, ...args: unknown[]) => unknown;

/** True when `fn` is already a spendline wrapper (so no call is recorded twice). */
export function isInstrumented(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[PATCHED] === true;
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
  const wrapped: AnyMethod = function (this: unknown, ...args: unknown[]): unknown {
    const rt = activeRuntime();
    const body = args[0];
    if (!rt || typeof body !== 'object' || body === null) return originalFn.apply(this, args);
    let call: ModelCall | undefined;
    let sent = body as Record<string, unknown>;
    try {
      const spec = how.spec(sent);
      if (spec) {
        call = new ModelCall(rt, spec);
        if (how.prepare) sent = how.prepare(sent);
      }
    } catch {
      rt.stats.s.internalErrors++;
      call = undefined;
      sent = body as Record<string, unknown>;
    }
    if (!call) return originalFn.apply(this, args);
    const forwarded = sent === body ? args : [sent, ...args.slice(1)];
    let result: unknown;
    try {
      result = how.suppressInnerSpans
        ? otelContext.with(suppressTracing(otelContext.active()), () => originalFn.apply(this, forwarded))
        : originalFn.apply(this, forwarded);
    } catch (err) {
      call.finish({ error: err });
      throw err;
    }
    try {
      if (!isApiPromise(result)) return result;
      const c = call;
      const original = body as Record<string, unknown>;
      return observeApiPromise(
        result as ApiPromiseLike<unknown>,
        (data) => {
          try {
            how.onResult(c, data, rt, original, sent);
          } catch {
            rt.stats.s.internalErrors++;
          }
          return data;
        },
        (err) => c.finish({ error: err }),
      );
    } catch {
      rt.stats.s.internalErrors++;
      return result;
    }
  };
  (wrapped as unknown as Record<symbol, unknown>)[PATCHED] = true;
  return wrapped;
}
