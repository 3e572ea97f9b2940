import type { Request } from 'express';

export type ParamResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Reads the query string strictly: an unknown parameter (usually a typo such as `groupby`) or a
 * repeated one is a 400, not silently ignored — a wrong figure is worse than an error.
 */
export function readQuery(req: Request, allowed: readonly string[]): ParamResult<Record<string, string>> {
  const malformed = malformedQueryPart(req.originalUrl);
  if (malformed !== undefined)
    return {
      ok: false,
      reason: `the query string must be percent-encoded UTF-8; got ${JSON.stringify(malformed)}`,
    };
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.query)) {
    if (!allowed.includes(name)) {
      return { ok: false, reason: `unknown parameter "${name}"; allowed: ${allowed.join(', ')}` };
    }
    if (typeof value !== 'string')
      return { ok: false, reason: `parameter "${name}" must be given once, as a plain value` };
    if (value === '') return { ok: false, reason: `parameter "${name}" is empty` };
    const text = plainText(`parameter "${name}"`, value);
    if (!text.ok) return text;
    out[name] = value;
  }
  return { ok: true, value: out };
}

/**
 * The first `name=value` part of a URL's query string that is not valid percent-encoded UTF-8 (`%FF`,
 * an encoded lone surrogate, a bare `%`). Node's parser would read it as U+FFFD or as itself, and
 * the answer would silently be for another value.
 */
function malformedQueryPart(url: string): string | undefined {
  const at = url.indexOf('?');
  if (at < 0) return undefined;
  for (const part of url.slice(at + 1).split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      return part.length > 100 ? `${part.slice(0, 100)}…` : part;
    }
  }
  return undefined;
}

/**
 * A value used as a name to look up (query or path parameter): no NUL, which no dimension holds and
 * a PostgreSQL ledger cannot even be asked for (it would fail the query: a 500).
 */
export function plainText(what: string, value: string): ParamResult<string> {
  if (value.includes('\u0000')) return { ok: false, reason: `${what} must not contain NUL (%00)` };
  return { ok: true, value };
}

/** `YYYY-MM-DD` (UTC midnight), an RFC 3339 timestamp with zone, or unix seconds → unix seconds. */
export function parseInstant(name: string, text: string): ParamResult<number> {
  if (/^\d{1,12}$/.test(text)) return { ok: true, value: Number(text) };
  // RFC 3339 read field by field: Date.parse would roll 2026-02-31 over to March 3 and take 24:00.
  const m =
    /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|([+-])(\d{2}):(\d{2})))?$/i.exec(
      text,
    );
  const day = m?.[1] === undefined ? undefined : dayStartSec(m[1]);
  if (m !== null && day !== undefined) {
    if (m[2] === undefined) return { ok: true, value: day };
    const [h, min, sec, offH, offMin] = [m[2], m[3], m[4] ?? '0', m[6] ?? '0', m[7] ?? '0'].map(Number) as [
      number,
      number,
      number,
      number,
      number,
    ];
    if (h <= 23 && min <= 59 && sec <= 59 && offH <= 23 && offMin <= 59) {
      const offset = (m[5] === '-' ? -1 : 1) * (offH * 3600 + offMin * 60);
      // Fractions of a second are dropped (floor), as before.
      return { ok: true, value: day + h * 3600 + min * 60 + sec - offset };
    }
  }
  return {
    ok: false,
    reason: `"${name}" must be a date (2026-09-01), an RFC 3339 time with zone (2026-09-01T12:00:00Z) or unix seconds; got ${JSON.stringify(text)}`,
  };
}

/** Unix seconds of a `YYYY-MM-DD` day's UTC midnight; undefined when that day does not exist. */
function dayStartSec(date: string): number | undefined {
  const ms = Date.parse(`${date}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(date) ? ms / 1000 : undefined;
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
