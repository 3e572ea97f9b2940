import { formatUsd } from '@spendline/sdk/core';

/** Exact decimal USD string with 9 places ("-1234.500000000"), for JSON and CSV. */
export function usdDecimal(nano: number | bigint): string {
  return formatUsd(nano, 9).replace(/[$,]/g, '');
}

/** Human money cell: unpriced usage is never shown as $0. */
export function costCell(nano: number | bigint, unpricedRequests: number): string {
  if (unpricedRequests > 0) return Number(nano) === 0 ? 'unpriced' : `${formatUsd(nano)} + unpriced`;
  return formatUsd(nano);
}
