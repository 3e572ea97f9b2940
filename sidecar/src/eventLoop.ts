/** Resolves after the event loop has run its pending I/O callbacks and timers (one `setImmediate` turn). */
export const yieldToLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
