import { ALIAS_ATTR, ATTR, isContentAttribute } from '@spendline/sdk/contract';
import { isJsonObject, type JsonObject } from './jsonObject.js';
import type { OtlpSignal } from './otlpProto.js';

/**
 * What the collector's `transform/strip_content` does, for the receiver that stands in for it
 * (`spendline up`): prompt and completion content (the contract's CONTENT_ATTRS, exact names and
 * prefixes) is deleted from every log record, span and span event, and a GenAI log record's body
 * (older semconv events and OpenLIT put the messages there) is cleared. The sidecar reads attributes
 * only, so nothing it counts changes; content never reaches the export file unless the operator
 * turns capture on (`up --keep-content`).
 */

/** Attributes that make a log record a GenAI one (its body then may hold messages). */
const GENAI_MARKERS: ReadonlySet<string> = new Set([
  ALIAS_ATTR.system,
  ATTR.providerName,
  ATTR.operationName,
]);

const list = (v: unknown): JsonObject[] => (Array.isArray(v) ? v.filter(isJsonObject) : []);

/** Drops the content attributes of a record, span or span event (its list is left alone when it has none). */
function stripAttributes(holder: JsonObject): void {
  const attrs = holder.attributes;
  if (!Array.isArray(attrs)) return;
  const kept = attrs.filter(
    (kv) => !(isJsonObject(kv) && typeof kv.key === 'string' && isContentAttribute(kv.key)),
  );
  if (kept.length < attrs.length) holder.attributes = kept;
}

function isGenAiLogRecord(record: JsonObject): boolean {
  if (typeof record.eventName === 'string' && record.eventName.startsWith('gen_ai.')) return true;
  for (const kv of list(record.attributes)) {
    if (typeof kv.key !== 'string') continue;
    if (GENAI_MARKERS.has(kv.key)) return true;
    if (kv.key === 'event.name') {
      const v = isJsonObject(kv.value) ? kv.value.stringValue : undefined;
      if (typeof v === 'string' && v.startsWith('gen_ai.')) return true;
    }
  }
  return false;
}

/** Deletes content from a decoded OTLP/JSON export request, in place. */
export function stripContent(signal: OtlpSignal, message: JsonObject): void {
  if (signal === 'logs') {
    for (const rl of list(message.resourceLogs))
      for (const sl of list(rl.scopeLogs))
        for (const record of list(sl.logRecords)) {
          // Decided before the attributes change: a content attribute does not make it GenAI.
          const genAi = isGenAiLogRecord(record);
          stripAttributes(record);
          if (genAi && record.body !== undefined) record.body = { stringValue: '' };
        }
    return;
  }
  for (const rs of list(message.resourceSpans))
    for (const ss of list(rs.scopeSpans))
      for (const span of list(ss.spans)) {
        stripAttributes(span);
        for (const event of list(span.events)) stripAttributes(event);
      }
}
