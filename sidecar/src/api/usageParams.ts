import type { Request } from 'express';

export type ParamResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Reads the query string strictly: an unknown parameter (usually a typo such as `groupby`) or a
 * repeated one is a 400, not silently ignored — a wrong figure is worse than an error.
 */
export function readQuery(req: Request, allowed: readonly string[]): ParamResult<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.query)) {
    if (!allowed.includes(name)) {
      return { ok: false, reason: `unknown parameter "${name}"; allowed: ${allowed.join(', ')}` };
    }
    if (typeof value !== 'string')
      return { ok: false, reason: `parameter "${name}" must be given once, as a plain value` };
    if (value === '') return { ok: false, reason: `parameter "${name}" is empty` };
    out[name] = value;
  }
  return { ok: true, value: out };
}

/** `YYYY-MM-DD` (UTC midnight), an RFC 3339 timestamp with zone, or unix seconds → unix seconds. */
export function parseInstant(name: string, text: string): ParamResult<number> {
  if (/^\d{1,12}$/.test(text)) return { ok: true, value: Number(text) };
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const ms = Date.parse(`${text}T00:00:00Z`);
    if (!Number.isNaN(ms) && new Date(ms).toISOString().startsWith(text))
      return { ok: true, value: ms / 1000 };
  } else if (/^\d{4}-\d{2}-\d{2}T.+(Z|[+-]\d{2}:\d{2})$/i.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return { ok: true, value: Math.floor(ms / 1000) };
  }
  return {
    ok: false,
    reason: `"${name}" must be a date (2026-09-01), an RFC 3339 time with zone (2026-09-01T12:00:00Z) or unix seconds; got ${JSON.stringify(text)}`,
  };
}

/** [from, to) in unix seconds; default: the last 30 UTC days including today. */
export function parseRange(
  q: Record<string, string>,
  nowMs: number,
): ParamResult<{ fromSec: number; toSec: number }> {
  const endOfToday = Math.floor(nowMs / 86_400_000) * 86_400 + 86_400;
  let toSec = endOfToday;
  let fromSec = endOfToday - 30 * 86_400;
  if (q.to !== undefined) {
    const to = parseInstant('to', q.to);
    if (!to.ok) return to;
    toSec = to.value;
    if (q.from === undefined) fromSec = toSec - 30 * 86_400;
  }
  if (q.from !== undefined) {
    const from = parseInstant('from', q.from);
    if (!from.ok) return from;
    fromSec = from.value;
  }
  if (fromSec >= toSec) return { ok: false, reason: '"from" must be before "to"' };
  return { ok: true, value: { fromSec, toSec } };
}

export function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): ParamResult<T | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  if ((allowed as readonly string[]).includes(value)) return { ok: true, value: value as T };
  return {
    ok: false,
    reason: `"${name}" must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`,
  };
}
