/**
 * Readers of OTLP/JSON scalar values (`AnyValue`, int64 fields, ids). Pure, allocation-light, never throw:
 * a value that does not fit yields NaN / undefined / '' and the caller turns that into a rejection.
 */

/** The OTLP/JSON `AnyValue` shape as JSON.parse hands it over (any field may be missing or mistyped). */
export interface JsonAnyValue {
  stringValue?: unknown;
  intValue?: unknown;
  doubleValue?: unknown;
  boolValue?: unknown;
}

/** Strict decimal integer text ("-12", "0042"); NaN for anything else (no exponent, blanks or hex). */
export function parseDecimalInteger(s: string): number {
  const n = s.length;
  if (n === 0 || n > 20) return Number.NaN;
  let i = s.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i === n) return Number.NaN;
  let value = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    value = value * 10 + c;
  }
  return s.charCodeAt(0) === 45 ? -value : value;
}

/**
 * A numeric attribute: `intValue` (int64 as a decimal string or a number), `doubleValue` (number, or
 * "NaN"/"Infinity" per proto3 JSON), or a numeric `stringValue` from lax emitters. NaN when not numeric.
 */
export function numericValue(v: JsonAnyValue): number {
  const iv = v.intValue;
  if (iv !== undefined) {
    if (typeof iv === 'number') return iv;
    if (typeof iv === 'string') return parseDecimalInteger(iv);
    return Number.NaN;
  }
  const dv = v.doubleValue;
  if (dv !== undefined) {
    if (typeof dv === 'number') return dv;
    if (typeof dv === 'string') return decimalNumber(dv, true);
    return Number.NaN;
  }
  const sv = v.stringValue;
  if (typeof sv === 'string') return decimalNumber(sv, false);
  return Number.NaN;
}

const DECIMAL_RE = /^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A number written in decimal (`12`, `12.0`, `1.2e3`): what proto3 JSON allows for a double, plus its
 * `NaN` / `Infinity` / `-Infinity` when `specials`. NaN for anything else, which `Number()` would
 * take: hex (`0x10` is not 16 tokens), binary, octal, blanks around it, the empty string.
 */
export function decimalNumber(s: string, specials: boolean): number {
  if (DECIMAL_RE.test(s)) return Number(s);
  if (specials && (s === 'NaN' || s === 'Infinity' || s === '-Infinity')) return Number(s);
  return Number.NaN;
}

/** A string-ish attribute: strings as they are, numbers and booleans in their JSON spelling; undefined otherwise. */
export function stringValue(v: JsonAnyValue): string | undefined {
  const sv = v.stringValue;
  if (typeof sv === 'string') return sv;
  const iv = v.intValue;
  if (typeof iv === 'string' || typeof iv === 'number') return String(iv);
  const dv = v.doubleValue;
  if (typeof dv === 'number' || typeof dv === 'string') return String(dv);
  const bv = v.boolValue;
  if (typeof bv === 'boolean') return bv ? 'true' : 'false';
  // An AnyValue with no field at all is the empty value (proto3 default), not a type error.
  if (sv === undefined && iv === undefined && dv === undefined && bv === undefined && !hasOtherValue(v))
    return '';
  return undefined;
}

function hasOtherValue(v: JsonAnyValue): boolean {
  const o = v as Record<string, unknown>;
  return o.arrayValue !== undefined || o.kvlistValue !== undefined || o.bytesValue !== undefined;
}

/**
 * OTLP int64 nanoseconds (decimal string or number) to whole milliseconds, exactly for strings
 * (a double cannot hold 19-digit nanos). NaN when malformed; 0 when absent or zero.
 */
export function nanosToMs(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'string') {
    const n = v.length;
    if (n === 0) return 0;
    if (n <= 6) {
      const small = parseDecimalInteger(v);
      return small >= 0 ? 0 : Number.NaN;
    }
    const ms = parseDecimalInteger(v.slice(0, n - 6));
    const sub = parseDecimalInteger(v.slice(n - 6));
    return ms >= 0 && sub >= 0 ? ms : Number.NaN;
  }
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v / 1e6);
  return Number.NaN;
}

/** Sub-millisecond part (0..1) of an int64 nanosecond value, for durations; 0 when unknown. */
export function subMsFraction(v: unknown): number {
  if (typeof v === 'string' && v.length > 6) {
    const sub = parseDecimalInteger(v.slice(v.length - 6));
    return sub >= 0 ? sub / 1e6 : 0;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return (v % 1e6) / 1e6;
  return 0;
}

/**
 * A trace or span id as lowercase hex of `bytes` bytes; '' when absent, all-zero (invalid per
 * OTLP) or malformed. Hex of any case is accepted (the OTLP/JSON encoding); base64 (the protobuf
 * JSON mapping some tools still write) is converted, since the id itself is unambiguous.
 */
export function normalizeId(v: unknown, bytes: number): string {
  if (typeof v !== 'string' || v.length === 0) return '';
  if (v.length === bytes * 2) {
    let lower = true;
    let nonZero = false;
    let hex = true;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        if (c !== 48) nonZero = true;
      } else if (c >= 97 && c <= 102) nonZero = true;
      else if (c >= 65 && c <= 70) {
        nonZero = true;
        lower = false;
      } else {
        hex = false;
        break;
      }
    }
    if (hex) return nonZero ? (lower ? v : v.toLowerCase()) : '';
  }
  return base64Id(v, bytes);
}

const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

function base64Id(v: string, bytes: number): string {
  if (!BASE64_RE.test(v)) return '';
  const buf = Buffer.from(v, 'base64');
  if (buf.length !== bytes) return '';
  const hex = buf.toString('hex');
  return /^0+$/.test(hex) ? '' : hex;
}
