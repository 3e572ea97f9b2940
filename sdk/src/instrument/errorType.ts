/**
 * `error.type` of a failed call: the HTTP status code when the provider answered (`429`, `500`),
 * else the error's class name (`APIConnectionError`, `APIUserAbortError`), else `_OTHER`.
 */
export function errorTypeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && Number.isInteger(status) && status > 0) return String(status);
    const name = (err as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && name !== '' && name !== 'Object') return name;
    const n = (err as { name?: unknown }).name;
    if (typeof n === 'string' && n !== '') return n;
  }
  return '_OTHER';
}
