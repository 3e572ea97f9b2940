import { formatUsd } from '@spendline/sdk/core';

/** Exact decimal USD string with 9 places ("-1234.500000000"), for JSON and CSV. */
export function usdDecimal(nano: number | bigint): string {
  return formatUsd(nano, 9).replace(/[$,]/g, '');
}

const NANO_PLACES = 9;
const MIN_PLACES = 2;

/**
 * The display rule for money shown to people: figures shown together use one number of decimals,
 * the fewest (at least 2, at most 9) at which every one of them is exact. Nothing is rounded, so
 * no priced non-zero amount reads $0.00 and rows add up to their total exactly as printed.
 * Amounts are nano-USD integers (number or bigint).
 */
export function exactPlaces(amounts: Iterable<number | bigint | null | undefined>): number {
  let places = MIN_PLACES;
  for (const a of amounts) {
    if (a === null || a === undefined) continue;
    let v = typeof a === 'bigint' ? a : BigInt(a);
    if (v < 0n) v = -v;
    let p = NANO_PLACES;
    while (p > places && v % 10n === 0n) {
      v /= 10n;
      p--;
    }
    places = Math.max(places, p);
  }
  return places;
}

/** One amount shown alone, exact ("$0.0001875", "$12.50"). */
export function usdExact(nano: number | bigint): string {
  return formatUsd(nano, exactPlaces([nano]));
}

/** Formats amounts shown together (a table, a list) with one shared exact number of decimals. */
export function usdFormatter(
  amounts: Iterable<number | bigint | null | undefined>,
): (nano: number | bigint) => string {
  const places = exactPlaces(amounts);
  return (nano) => formatUsd(nano, places);
}

/** Human money cell: unpriced usage, and calls of unknown usage, are never shown as $0. */
export function costCell(
  nano: number | bigint,
  unpricedRequests: number,
  unknownUsageRequests = 0,
  usd: (nano: number | bigint) => string = usdExact,
): string {
  const missing = [
    ...(unpricedRequests > 0 ? ['unpriced'] : []),
    ...(unknownUsageRequests > 0 ? ['unknown'] : []),
  ].join(' + ');
  if (missing === '') return usd(nano);
  return Number(nano) === 0 ? missing : `${usd(nano)} + ${missing}`;
}
