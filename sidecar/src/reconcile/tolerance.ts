/** Largest accepted reconciliation tolerance, in percent of the billed amount. */
export const MAX_TOLERANCE_PCT = 1000;

/**
 * A reconciliation tolerance in percent: a plain decimal 0..1000 with at most two decimals (the
 * comparison works in basis points). `1e308`, `NaN`, `-1` or `5%` are refused with the reason.
 */
export function parseTolerancePct(text: string): { ok: true; value: number } | { ok: false; reason: string } {
  const t = text.trim();
  if (/^\d{1,4}(\.\d{1,2})?$/.test(t) && Number(t) <= MAX_TOLERANCE_PCT)
    return { ok: true, value: Number(t) };
  return {
    ok: false,
    reason: `must be a percentage 0..${MAX_TOLERANCE_PCT} with at most 2 decimals (e.g. 5 or 2.5); got ${JSON.stringify(text)}`,
  };
}
