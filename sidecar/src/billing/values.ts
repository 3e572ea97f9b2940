import { usdToNano } from '@spendline/sdk/core';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const US_DAY_RE = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
// BigQuery's text form: "2026-09-01 07:00:00 UTC" or "2026-09-01 13:42:10.123456 UTC".
const BQ_TS_RE = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?\s*UTC$/;

export function utcDayOfMs(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function validDay(y: string, m: string, d: string): Parsed<string> {
  const day = `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`;
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms) || utcDayOfMs(ms) !== day) return { ok: false, reason: `not a calendar date: ${day}` };
  return { ok: true, value: day };
}

/** A UTC instant: RFC 3339 / ISO 8601 with zone, BigQuery "… UTC" text, or unix seconds. */
export function parseUtcInstantMs(value: unknown): Parsed<number> {
  if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: value * 1000 };
  if (typeof value !== 'string') return { ok: false, reason: `expected a timestamp, got ${typeof value}` };
  const text = value.trim();
  const bq = BQ_TS_RE.exec(text);
  const iso = bq ? `${bq[1]}T${bq[2]}${bq[3] ?? ''}Z` : text;
  if (!bq && !/(Z|[+-]\d{2}:?\d{2})$/i.test(iso)) {
    return { ok: false, reason: `timestamp without a time zone: ${JSON.stringify(text)}` };
  }
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return { ok: false, reason: `not a timestamp: ${JSON.stringify(text)}` };
  return { ok: true, value: ms };
}

/** A day: `YYYY-MM-DD`, `MM/DD/YYYY` (Azure CSV), or a zoned timestamp (its UTC day). */
export function parseDay(value: unknown): Parsed<string> {
  if (typeof value !== 'string') return { ok: false, reason: `expected a date, got ${typeof value}` };
  const text = value.trim();
  const d = DAY_RE.exec(text);
  if (d) return validDay(d[1] as string, d[2] as string, d[3] as string);
  const us = US_DAY_RE.exec(text);
  if (us) return validDay(us[3] as string, us[1] as string, us[2] as string);
  const instant = parseUtcInstantMs(text);
  if (!instant.ok) return { ok: false, reason: `not a date: ${JSON.stringify(text)}` };
  return { ok: true, value: utcDayOfMs(instant.value) };
}

/**
 * USD amount from JSON (number or decimal string) or a CSV cell ("1,234.50", "$3.10", " -0.1 ").
 * Empty is an error: a missing amount is not $0.
 */
export function parseUsdNano(value: unknown): Parsed<number> {
  if (typeof value === 'number') {
    const r = usdToNano(value);
    return r.ok ? { ok: true, value: r.nano } : r;
  }
  if (typeof value !== 'string') return { ok: false, reason: `expected an amount, got ${typeof value}` };
  const cleaned = value
    .trim()
    .replace(/^(-?)\$/, '$1')
    .replace(/,/g, '');
  if (cleaned === '') return { ok: false, reason: 'empty amount' };
  const r = usdToNano(cleaned);
  return r.ok ? { ok: true, value: r.nano } : r;
}

export function isUsd(currency: unknown): boolean {
  return typeof currency === 'string' && currency.trim().toUpperCase() === 'USD';
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Non-negative integer count from JSON/CSV, or undefined when absent/empty. */
export function parseCount(value: unknown): Parsed<number | undefined> {
  if (value === undefined || value === null || value === '') return { ok: true, value: undefined };
  const n = typeof value === 'string' ? Number(value.replace(/,/g, '')) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    return { ok: false, reason: `not a non-negative integer: ${JSON.stringify(value)}` };
  }
  return { ok: true, value: n };
}
