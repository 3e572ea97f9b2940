import { asyncGeneratorTap } from './asyncTap.js';

/** The part of a Stainless `APIPromise` (openai, @anthropic-ai/sdk) the wrappers rely on. */
export interface ApiPromiseLike<T> extends PromiseLike<T> {
  _thenUnwrap<U>(transform: (data: T, props: unknown) => U): ApiPromiseLike<U>;
  asResponse(): Promise<unknown>;
  /** @anthropic-ai/sdk only: the request promise, without asResponse()'s tracing side effect. */
  _responseProps?(): Promise<unknown>;
}

export function isApiPromise(v: unknown): v is ApiPromiseLike<unknown> {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { _thenUnwrap?: unknown })._thenUnwrap === 'function' &&
    typeof (v as { asResponse?: unknown }).asResponse === 'function'
  );
}

/** The Stainless `APIPromise` fields both `_thenUnwrap` and `parse()` read (openai, @anthropic-ai/sdk). */
interface ApiPromiseFields {
  responsePromise: Promise<unknown>;
  parseResponse: (this: unknown, client: unknown, props: unknown) => unknown;
}

function noop(): void {}

function hasApiPromiseFields(p: object): boolean {
  const f = p as Partial<ApiPromiseFields>;
  return typeof f.parseResponse === 'function' && f.responsePromise instanceof Promise;
}

/**
 * Observes a call without changing what the caller gets: `onData` sees the parsed result when the
 * caller reads it (the returned promise is still an `APIPromise`, so `.withResponse()` works);
 * `onError` sees a failed request; `onRaw` a response the caller took unparsed (`asResponse()`), whose
 * body only the caller reads. The original error reaches the caller unchanged.
 */
export function observeApiPromise<T>(
  p: ApiPromiseLike<T>,
  onData: (data: T) => T,
  onError: (err: unknown) => void,
  onRaw: () => void,
): ApiPromiseLike<T> {
  if (hasApiPromiseFields(p)) {
    // The same object with its parse step extended: what `_thenUnwrap` does, without its second
    // APIPromise and async wrapper, and errors seen on the request promise itself rather than via
    // `asResponse()`: two promises per call instead of four (see docs/performance.md).
    const f = p as unknown as ApiPromiseFields;
    const parse = f.parseResponse;
    // Once per call, whichever way the caller reads the result (awaited, or chained below).
    let seen = false;
    let parsing = false;
    const observeOnce = (data: T): T => {
      if (seen) return data;
      seen = true;
      return onData(data);
    };
    f.parseResponse = function parseObserved(this: unknown, client, props) {
      parsing = true;
      const parsed = parse.call(this, client, props);
      return parsed instanceof Promise ? parsed.then(observeOnce) : observeOnce(parsed as T);
    };
    // openai 7 sets `_thenUnwrap` on the promise itself, chaining from the parse step it was built
    // with rather than from `parseResponse`: its helpers (`chat.completions.parse()`,
    // `responses.stream()`, `responses.parse()`) read the result that way.
    if (Object.hasOwn(p, '_thenUnwrap')) {
      const chain = p._thenUnwrap;
      p._thenUnwrap = function thenUnwrapObserved<U>(
        this: unknown,
        transform: (data: T, props: unknown) => U,
      ) {
        return chain.call(this, (data: T, props: unknown) =>
          transform(observeOnce(data), props),
        ) as ApiPromiseLike<U>;
      } as ApiPromiseLike<T>['_thenUnwrap'];
    }
    // `asResponse()` alone hands the body to the caller, so the call would leave no record at all.
    // `withResponse()` calls it too, after starting the parse: a parse begun by the time the response
    // is there (parse callbacks run first, being registered first) records the call instead.
    const asResponse = p.asResponse;
    p.asResponse = function asResponseObserved(this: unknown) {
      const raw = asResponse.call(this);
      raw.then(() => {
        if (!parsing) onRaw();
      }, noop);
      return raw;
    };
    f.responsePromise.then(undefined, onError);
    return p;
  }
  // Both share the request promise without parsing (consuming) the body.
  const request = typeof p._responseProps === 'function' ? p._responseProps() : p.asResponse();
  request.then(undefined, onError);
  return p._thenUnwrap((data) => onData(data));
}

/** Items of a Stainless `Stream`: replaces its iterator in place so the caller keeps the same object and type. */
export interface StreamObserver<Item> {
  /** Return false to hide the item from the caller. */
  onItem(item: Item): boolean;
  onEnd(outcome: { kind: 'done' } | { kind: 'broken' } | { kind: 'error'; error: unknown }): void;
}

export function tapStream<Item>(
  stream: unknown,
  observer: StreamObserver<Item>,
  onInternalError: () => void,
): boolean {
  const s = stream as { iterator?: unknown };
  if (typeof s !== 'object' || s === null || typeof s.iterator !== 'function') return false;
  const original = (s.iterator as () => AsyncIterator<Item>).bind(stream);
  // A hand-written iterator rather than an async generator around `for await`: per streamed item
  // that saves a generator resumption and several promise hops (see docs/performance.md).
  s.iterator = function tapped(): AsyncIterator<Item> {
    const it = original();
    let ended = false;
    const end = (outcome: Parameters<StreamObserver<Item>['onEnd']>[0]): void => {
      if (ended) return;
      ended = true;
      try {
        observer.onEnd(outcome);
      } catch {
        onInternalError();
      }
    };
    const step = (r: IteratorResult<Item>): IteratorResult<Item> | Promise<IteratorResult<Item>> => {
      if (r.done) {
        end({ kind: 'done' });
        return r;
      }
      let forward = true;
      try {
        forward = observer.onItem(r.value);
      } catch {
        onInternalError();
      }
      return forward ? r : it.next().then(step, fail);
    };
    const fail = (error: unknown): never => {
      end({ kind: 'error', error });
      throw error;
    };
    return {
      next: () => (ended ? it.next() : it.next().then(step, fail)),
      return: (value?: unknown) => {
        end({ kind: 'broken' });
        return it.return
          ? it.return(value)
          : Promise.resolve({ done: true, value: undefined as unknown as Item });
      },
      throw: (error?: unknown) => {
        end({ kind: 'error', error });
        return it.throw ? it.throw(error) : Promise.reject(error);
      },
    };
  };
  return true;
}

/**
 * Taps a streamed result: the client's Stainless stream in place (`replacement` undefined), or another
 * instrumentation's own stream under ours (OpenLLMetry returns an async generator for a streamed call)
 * by a tapped replacement, which the instrumentation's `onResult` returns. Undefined when the result is
 * neither.
 */
export function tapAnyStream<Item>(
  data: unknown,
  observer: StreamObserver<Item>,
  onInternalError: () => void,
): { replacement: unknown } | undefined {
  if (tapStream<Item>(data, observer, onInternalError)) return { replacement: undefined };
  const replacement = asyncGeneratorTap<Item>(data, observer, onInternalError);
  return replacement === undefined ? undefined : { replacement };
}
