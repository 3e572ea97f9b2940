import { usdToNano } from '@spendline/sdk/core';
import { MAX_VALUE_LENGTH } from '../pipeline/valueLength.js';

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

/** Largest |ms| a Date holds (±100,000,000 days around 1970). */
const MAX_DATE_MS = 8.64e15;

/** A UTC instant: RFC 3339 / ISO 8601 with zone, BigQuery "… UTC" text, or unix seconds. */
export function parseUtcInstantMs(value: unknown): Parsed<number> {
  if (typeof value === 'number') {
    // Past a Date's range a day cannot be named at all (toISOString throws).
    if (!(Math.abs(value * 1000) <= MAX_DATE_MS))
      return { ok: false, reason: `unix time out of range: ${JSON.stringify(value)}` };
    return { ok: true, value: value * 1000 };
  }
  if (typeof value !== 'string') return { ok: false, reason: `expected a timestamp, got ${typeof value}` };
  const text = value.trim();
  const bq = BQ_TS_RE.exec(text);
  const iso = bq ? `${bq[1]}T${bq[2]}${bq[3] ?? ''}Z` : text;
  if (!bq && !/(Z|[+-]\d{2}:?\d{2})$/i.test(iso)) {
    return { ok: false, reason: `timestamp without a time zone: ${JSON.stringify(text)}` };
  }
  // Date.parse rolls a day that does not exist over (2026-04-31 is May 1): the day must exist.
  const date = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (date && !validDay(date[1] as string, date[2] as string, date[3] as string).ok)
    return { ok: false, reason: `not a calendar date: ${JSON.stringify(text)}` };
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return { ok: false, reason: `not a timestamp: ${JSON.stringify(text)}` };
  return { ok: true, value: ms };
}

/** Longest provider or source name kept: what a usage record carries (the pipeline cuts longer ones). */
const MAX_NAME_LENGTH = MAX_VALUE_LENGTH;

/**
 * A provider or source name from an export: trimmed, non-empty, at most 128 characters and without
 * control characters; anything else could match no tracked usage and would only bloat every report.
 */
export function parseName(value: unknown): Parsed<string> {
  if (typeof value !== 'string' || value.trim() === '') return { ok: false, reason: 'is missing' };
  const text = value.trim();
  if (text.length > MAX_NAME_LENGTH)
    return { ok: false, reason: `longer than ${MAX_NAME_LENGTH} characters (${text.length})` };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(text)) return { ok: false, reason: 'contains control characters' };
  return { ok: true, value: text };
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

/** Thousands grouped by "," with a "." decimal part: "1,234.50". The only form with a comma accepted. */
const GROUPED_DECIMAL = /^\d{1,3}(,\d{3})+\.\d+$/;

/** Whether an export format defines this amount as a credit, refund or discount (the only amounts that may be negative). */
export type AmountKind = 'charge' | 'credit';

/**
 * USD amount from JSON (number or decimal string) or a CSV cell ("1234.50", "1,234.50", "$3.10").
 * Refused with the reason: an empty cell (a missing amount is not $0), an ambiguous decimal form
 * ("10,00", "1.234,56", "1,234": is the comma a decimal or a thousands separator?), and a
 * negative charge (only a field the format defines as a credit may be negative).
 */
export function parseUsdNano(value: unknown, kind: AmountKind = 'charge'): Parsed<number> {
  const r = parseSignedUsdNano(value);
  if (r.ok && r.value < 0 && kind === 'charge') {
    return {
      ok: false,
      reason: `negative amount ${JSON.stringify(value)} refused: this field is a charge, and the format defines no credit for it`,
    };
  }
  return r;
}

function parseSignedUsdNano(value: unknown): Parsed<number> {
  if (typeof value === 'number') {
    const r = usdToNano(value);
    return r.ok ? { ok: true, value: r.nano } : r;
  }
  if (typeof value !== 'string') return { ok: false, reason: `expected an amount, got ${typeof value}` };
  const trimmed = value.trim();
  const sign = trimmed.startsWith('-') ? '-' : '';
  const unsigned = trimmed.replace(/^-?\$?/, '');
  if (unsigned === '') return { ok: false, reason: 'empty amount' };
  if (unsigned.includes(',')) {
    if (!GROUPED_DECIMAL.test(unsigned)) {
      return {
        ok: false,
        reason: `ambiguous amount ${JSON.stringify(value)}: a comma is accepted only as a thousands separator with a "." decimal part (1,234.50)`,
      };
    }
  }
  const r = usdToNano(`${sign}${unsigned.replace(/,/g, '')}`);
  return r.ok ? { ok: true, value: r.nano } : r;
}

export function isUsd(currency: unknown): boolean {
  return typeof currency === 'string' && currency.trim().toUpperCase() === 'USD';
}

/** The rejection of a non-USD amount, naming the currency (spendline reconciles in USD only; no conversion). */
export function notUsd(currency: unknown): { reason: string } {
  return {
    reason: `currency ${JSON.stringify(currency ?? null)} is not USD: only USD exports are imported (no conversion is guessed)`,
  };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Non-negative integer count from JSON/CSV, or undefined when absent/empty. */
export function parseCount(value: unknown): Parsed<number | undefined> {
  if (value === undefined || value === null || value === '') return { ok: true, value: undefined };
  // Thousands separators only in groups of three: "10,00" is not a count.
  if (typeof value === 'string' && value.includes(',') && !/^\s*\d{1,3}(,\d{3})+\s*$/.test(value))
    return { ok: false, reason: `not a non-negative integer: ${JSON.stringify(value)}` };
  const n = typeof value === 'string' ? Number(value.replace(/,/g, '')) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    return { ok: false, reason: `not a non-negative integer: ${JSON.stringify(value)}` };
  }
  return { ok: true, value: n };
}
