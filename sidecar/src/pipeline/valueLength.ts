import { createHash } from 'node:crypto';
import type { UsageRecord } from '../decode/usageRecord.js';

/**
 * Longest dimension value kept (provider, model, service, operation, feature, tenant, user, task,
 * session, agent, execution path, JSONL source), in UTF-16 code units. A value asked for (an API filter) is cut the same way to be found. Label caps count distinct values, not their size: without this, 50 records with
 * 1 MiB model names made /metrics 210 MB. Real model or service names are far shorter.
 */
export const MAX_VALUE_LENGTH = 128;
/** Hex digits of the full value's SHA-256 kept after the marker, so distinct long values stay distinct. */
const HASH_DIGITS = 12;
/** Marks a cut value: `<first 115 chars>…~<12 hex of sha256(full value)>` (128 chars in all). */
export const TRUNCATION_MARKER = '…~';

/** The dimensions a record's values are capped on, named as in spendline_label_truncated_total. */
export const CAPPED_VALUES = [
  'provider',
  'model',
  'service',
  'operation',
  'feature',
  'tenant',
  'user',
  'task',
  'session',
  'agent',
  'execution_path',
  'source',
] as const;
export type CappedValue = (typeof CAPPED_VALUES)[number];

/** The value itself when short enough, else its prefix, the marker and a hash of the whole. */
export function capValueLength(value: string): string {
  if (value.length <= MAX_VALUE_LENGTH) return value;
  const hash = createHash('sha256').update(value).digest('hex').slice(0, HASH_DIGITS);
  let keep = MAX_VALUE_LENGTH - TRUNCATION_MARKER.length - HASH_DIGITS;
  // Never split a surrogate pair.
  const last = value.charCodeAt(keep - 1);
  if (last >= 0xd800 && last <= 0xdbff) keep--;
  return `${value.slice(0, keep)}${TRUNCATION_MARKER}${hash}`;
}

/**
 * Caps a decoded record's dimension values in place, before it is grouped, so /metrics and the
 * ledger hold the same (short) values; calls `truncated` once per value cut.
 */
export function capRecordValues(r: UsageRecord, truncated: (value: CappedValue) => void): void {
  const cap = (v: string, name: CappedValue): string => {
    if (v.length <= MAX_VALUE_LENGTH) return v;
    truncated(name);
    return capValueLength(v);
  };
  r.provider = cap(r.provider, 'provider');
  if (r.requestModel.length > MAX_VALUE_LENGTH || r.responseModel.length > MAX_VALUE_LENGTH) {
    truncated('model');
    r.requestModel = capValueLength(r.requestModel);
    r.responseModel = capValueLength(r.responseModel);
  }
  r.service = cap(r.service, 'service');
  r.operation = cap(r.operation, 'operation');
  r.feature = cap(r.feature, 'feature');
  r.tenantId = cap(r.tenantId, 'tenant');
  r.userId = cap(r.userId, 'user');
  r.taskId = cap(r.taskId, 'task');
  // A running-total key and a field of every stream event (kept in the replay buffer).
  r.sessionId = cap(r.sessionId, 'session');
  // Rollup dimensions too (`group_by=agent|execution_path|source`).
  r.agentName = cap(r.agentName, 'agent');
  r.executionPath = cap(r.executionPath, 'execution_path');
  r.sourceName = cap(r.sourceName, 'source');
}
