import { formatUsd } from '@spendline/sdk/core';

/** Exact decimal USD string with 9 places ("-1234.500000000"), for JSON and CSV. */
export function usdDecimal(nano: number | bigint): string {
  return formatUsd(nano, 9).replace(/[$,]/g, '');
}

/** Human money cell: unpriced usage, and calls of unknown usage, are never shown as $0. */
export function costCell(nano: number | bigint, unpricedRequests: number, unknownUsageRequests = 0): string {
  const missing = [
    ...(unpricedRequests > 0 ? ['unpriced'] : []),
    ...(unknownUsageRequests > 0 ? ['unknown'] : []),
  ].join(' + ');
  if (missing === '') return formatUsd(nano);
  return Number(nano) === 0 ? missing : `${formatUsd(nano)} + ${missing}`;
}
