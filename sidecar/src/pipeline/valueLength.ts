import { capValueLength, MAX_VALUE_LENGTH } from '@spendline/sdk/contract';
import type { UsageRecord } from '../decode/usageRecord.js';

/**
 * Longest dimension value kept (provider, model, service, operation, feature, tenant, user, task,
 * session, agent, execution path, JSONL source), in UTF-16 code units, and the cut: the SDK's, so a value
 * the SDK cut before export is kept as it is. A value asked for (an API filter) is cut the same way to
 * be found. Label caps count distinct values, not their size: without this, 50 records with 1 MiB model
 * names made /metrics 210 MB. Real model or service names are far shorter.
 */
export { capValueLength, MAX_VALUE_LENGTH, TRUNCATION_MARKER } from '@spendline/sdk/contract';

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
