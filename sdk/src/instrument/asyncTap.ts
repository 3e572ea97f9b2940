/** Observes a plain async iterable by returning a replacement generator that yields the same items. */
export interface AsyncTapObserver<Item> {
  /** Return false to hide the item from the caller. */
  onItem(item: Item): unknown;
  onEnd(outcome: { kind: 'done' } | { kind: 'broken' } | { kind: 'error'; error: unknown }): void;
}

export function asyncGeneratorTap<Item>(
  source: unknown,
  observer: AsyncTapObserver<Item>,
  onInternalError: () => void,
): AsyncGenerator<Item, void, undefined> | undefined {
  if (typeof (source as AsyncIterable<Item> | null)?.[Symbol.asyncIterator] !== 'function') return undefined;
  return (async function* tapped(): AsyncGenerator<Item, void, undefined> {
    let outcome: Parameters<AsyncTapObserver<Item>['onEnd']>[0] = { kind: 'broken' };
    try {
      for await (const item of source as AsyncIterable<Item>) {
        let forward: unknown = true;
        try {
          forward = observer.onItem(item);
        } catch {
          onInternalError();
        }
        if (forward !== false) yield item;
      }
      outcome = { kind: 'done' };
    } catch (error) {
      outcome = { kind: 'error', error };
      throw error;
    } finally {
      try {
        observer.onEnd(outcome);
      } catch {
        onInternalError();
      }
    }
  })();
}
