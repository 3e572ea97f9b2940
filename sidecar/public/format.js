// Formatting shared by every figure on the page: one money format, one token format.

/** Exact decimal USD string from the API ("12.345000000") -> BigInt nano-USD. */
export function toNano(usd) {
  const m = /^(-?)(\d+)(?:\.(\d{0,9}))?/.exec(String(usd ?? '0'));
  if (!m) return 0n;
  const nano = BigInt(m[2]) * 1000000000n + BigInt((m[3] ?? '').padEnd(9, '0'));
  return m[1] === '-' ? -nano : nano;
}

/**
 * The one money format: US dollars with 4 decimals everywhere ($1,234.5678, $0.0031), rounded half
 * up from exact nano-USD; spend that rounds to zero but is not zero reads "<$0.0001".
 */
export function formatNano(nano) {
  const neg = nano < 0n;
  const abs = neg ? -nano : nano;
  if (abs > 0n && abs < 50000n) return neg ? '>-$0.0001' : '<$0.0001';
  const rounded = (abs + 50000n) / 100000n; // 1e-4 USD units
  const whole = (rounded / 10000n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = (rounded % 10000n).toString().padStart(4, '0');
  return `${neg ? '-' : ''}$${whole}.${frac}`;
}

export const formatUsd = (usd) => formatNano(toNano(usd));

/** A cost that includes unpriced calls is incomplete: say so rather than imply $0. */
export function costText(totals) {
  const unpriced = totals.unpriced_requests ?? 0;
  if (unpriced > 0)
    return toNano(totals.cost_usd) === 0n ? 'unpriced' : `${formatUsd(totals.cost_usd)} + unpriced`;
  return formatUsd(totals.cost_usd);
}

export const intFmt = (n) => Number(n ?? 0).toLocaleString('en-US');

/** Tokens for chart axes: 950, 12.3k, 4.5M. */
export function compactCount(n) {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}

export const tokensOf = (t) =>
  (t.tokens?.input ?? 0) +
  (t.tokens?.cache_read ?? 0) +
  (t.tokens?.cache_write ?? 0) +
  (t.tokens?.output ?? 0) +
  (t.tokens?.reasoning ?? 0);

/** Milliseconds from /api/latency: a number, {over_ms} for the open top bucket, or null. */
export function formatMs(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return `>${intFmt(v.over_ms)} ms`;
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}
