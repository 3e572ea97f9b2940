import { createHash } from 'node:crypto';

/** Stable short hash of a line: the dedup key of records that carry no id of their own. */
export function lineHash(line: string): string {
  return createHash('sha256').update(line).digest('hex').slice(0, 32);
}
