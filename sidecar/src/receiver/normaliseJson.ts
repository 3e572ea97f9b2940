import { isJsonObject, type JsonObject } from './jsonObject.js';
import type { OtlpSignal } from './otlpProto.js';

/**
 * An accepted OTLP/JSON request brought to the form the collector writes it in (its file exporter's
 * `format: json`), before content is stripped and the line written: the collector's OTLP/JSON
 * unmarshaler (pdata, `pdata/internal/generated_proto_*.go` `UnmarshalJSON`) reads every field under
 * its lowerCamelCase JSON name and, for fields whose proto name differs, under the proto
 * (snake_case) name too, and its marshaler writes lowerCamelCase only. The receiver's content
 * stripping and the sidecar's decoder read lowerCamelCase only, so a request spelled the proto way
 * kept its content on disk and was not counted.
 *
 * As pdata reads a request:
 * - both spellings of a repeated field (a list) are appended, in the order they appear;
 * - any other field read twice keeps the value read last; an AnyValue is a oneof, so of its members
 *   (stringValue, intValue, arrayValue, …) only the last one read is kept;
 * - `deprecatedScopeLogs`/`deprecated_scope_logs` (`deprecatedScopeSpans`/`deprecated_scope_spans`)
 *   become the scopeLogs (scopeSpans) when those are empty and are dropped otherwise
 *   (`pdata/internal/otlp/logs.go` MigrateLogs, `traces.go` MigrateTraces);
 * - fields the OTLP messages do not define are dropped (pdata skips them, so the collector never
 *   writes them; nothing the receiver does not know the meaning of, content included, reaches disk);
 * - trace and span ids are lowercase hex (pdata writes them so).
 * Values are otherwise left as sent, as before this walk: an int64 sent as a number stays a number
 * and an enum sent by name (`"STATUS_CODE_ERROR"`) stays a name, where the collector writes a
 * decimal string and a number (the sidecar reads both forms of the values it counts); `null` stays
 * (pdata reads it as an absent field).
 *
 * The walk modifies the request in place: a message whose names are all already the collector's is
 * left as it is (no copy), one that is not is replaced by a new object holding the same values. It is
 * iterative, with one frame per open list or message field, so nesting (AnyValues inside AnyValues)
 * costs heap, not stack; the request's nesting is bounded before (MAX_JSON_NESTING).
 */

/** How a field is read. `list`/`scalars` are repeated fields; `id` a trace or span id (hex). */
type Field =
  | { name: string; kind: 'scalar' | 'id' | 'scalars' }
  | { name: string; kind: 'one' | 'list'; type: Message };

interface Message {
  /** Every JSON name pdata reads for a field of this message, to the field (its lowerCamelCase name). */
  readonly fields: Map<string, Field>;
  /** AnyValue: a oneof, the member read last is the value. */
  oneof: boolean;
  /** ResourceLogs/ResourceSpans: the deprecated scope list and the one it migrates into. */
  deprecated?: { from: string; into: string };
}

const message = (): Message => ({ fields: new Map(), oneof: false });

const M = {
  logsRequest: message(),
  resourceLogs: message(),
  scopeLogs: message(),
  logRecord: message(),
  tracesRequest: message(),
  resourceSpans: message(),
  scopeSpans: message(),
  span: message(),
  spanEvent: message(),
  spanLink: message(),
  status: message(),
  resource: message(),
  entityRef: message(),
  scope: message(),
  keyValue: message(),
  anyValue: message(),
  arrayValue: message(),
  keyValueList: message(),
};

type Row =
  | [names: readonly string[], kind: 'scalar' | 'id' | 'scalars']
  | [names: readonly string[], kind: 'one' | 'list', type: Message];

/** The names in each row are exactly the `case` labels of the message's pdata `UnmarshalJSON`. */
function define(m: Message, rows: readonly Row[]): void {
  for (const row of rows) {
    const [names] = row;
    const name = names[0] as string;
    const field: Field =
      row[1] === 'one' || row[1] === 'list' ? { name, kind: row[1], type: row[2] } : { name, kind: row[1] };
    for (const n of names) m.fields.set(n, field);
  }
}

const ATTRIBUTES: Row = [['attributes'], 'list', M.keyValue];
const DROPPED_ATTRIBUTES: Row = [['droppedAttributesCount', 'dropped_attributes_count'], 'scalar'];
const SCHEMA_URL: Row = [['schemaUrl', 'schema_url'], 'scalar'];

define(M.logsRequest, [[['resourceLogs', 'resource_logs'], 'list', M.resourceLogs]]);
define(M.resourceLogs, [
  [['resource'], 'one', M.resource],
  [['scopeLogs', 'scope_logs'], 'list', M.scopeLogs],
  SCHEMA_URL,
  [['deprecatedScopeLogs', 'deprecated_scope_logs'], 'list', M.scopeLogs],
]);
M.resourceLogs.deprecated = { from: 'deprecatedScopeLogs', into: 'scopeLogs' };
define(M.scopeLogs, [
  [['scope'], 'one', M.scope],
  [['logRecords', 'log_records'], 'list', M.logRecord],
  SCHEMA_URL,
]);
define(M.logRecord, [
  [['timeUnixNano', 'time_unix_nano'], 'scalar'],
  [['observedTimeUnixNano', 'observed_time_unix_nano'], 'scalar'],
  [['severityNumber', 'severity_number'], 'scalar'],
  [['severityText', 'severity_text'], 'scalar'],
  [['body'], 'one', M.anyValue],
  ATTRIBUTES,
  DROPPED_ATTRIBUTES,
  [['flags'], 'scalar'],
  [['traceId', 'trace_id'], 'id'],
  [['spanId', 'span_id'], 'id'],
  [['eventName', 'event_name'], 'scalar'],
]);

define(M.tracesRequest, [[['resourceSpans', 'resource_spans'], 'list', M.resourceSpans]]);
define(M.resourceSpans, [
  [['resource'], 'one', M.resource],
  [['scopeSpans', 'scope_spans'], 'list', M.scopeSpans],
  SCHEMA_URL,
  [['deprecatedScopeSpans', 'deprecated_scope_spans'], 'list', M.scopeSpans],
]);
M.resourceSpans.deprecated = { from: 'deprecatedScopeSpans', into: 'scopeSpans' };
define(M.scopeSpans, [[['scope'], 'one', M.scope], [['spans'], 'list', M.span], SCHEMA_URL]);
define(M.span, [
  [['traceId', 'trace_id'], 'id'],
  [['spanId', 'span_id'], 'id'],
  [['traceState', 'trace_state'], 'scalar'],
  [['parentSpanId', 'parent_span_id'], 'id'],
  [['flags'], 'scalar'],
  [['name'], 'scalar'],
  [['kind'], 'scalar'],
  [['startTimeUnixNano', 'start_time_unix_nano'], 'scalar'],
  [['endTimeUnixNano', 'end_time_unix_nano'], 'scalar'],
  ATTRIBUTES,
  DROPPED_ATTRIBUTES,
  [['events'], 'list', M.spanEvent],
  [['droppedEventsCount', 'dropped_events_count'], 'scalar'],
  [['links'], 'list', M.spanLink],
  [['droppedLinksCount', 'dropped_links_count'], 'scalar'],
  [['status'], 'one', M.status],
]);
define(M.spanEvent, [
  [['timeUnixNano', 'time_unix_nano'], 'scalar'],
  [['name'], 'scalar'],
  ATTRIBUTES,
  DROPPED_ATTRIBUTES,
]);
define(M.spanLink, [
  [['traceId', 'trace_id'], 'id'],
  [['spanId', 'span_id'], 'id'],
  [['traceState', 'trace_state'], 'scalar'],
  ATTRIBUTES,
  DROPPED_ATTRIBUTES,
  [['flags'], 'scalar'],
]);
define(M.status, [
  [['message'], 'scalar'],
  [['code'], 'scalar'],
]);

define(M.resource, [ATTRIBUTES, DROPPED_ATTRIBUTES, [['entityRefs', 'entity_refs'], 'list', M.entityRef]]);
define(M.entityRef, [
  SCHEMA_URL,
  [['type'], 'scalar'],
  [['idKeys', 'id_keys'], 'scalars'],
  [['descriptionKeys', 'description_keys'], 'scalars'],
]);
define(M.scope, [[['name'], 'scalar'], [['version'], 'scalar'], ATTRIBUTES, DROPPED_ATTRIBUTES]);
define(M.keyValue, [
  [['key'], 'scalar'],
  [['value'], 'one', M.anyValue],
  [['keyStrindex', 'key_strindex'], 'scalar'],
]);
define(M.anyValue, [
  [['stringValue', 'string_value'], 'scalar'],
  [['boolValue', 'bool_value'], 'scalar'],
  [['intValue', 'int_value'], 'scalar'],
  [['doubleValue', 'double_value'], 'scalar'],
  [['arrayValue', 'array_value'], 'one', M.arrayValue],
  [['kvlistValue', 'kvlist_value'], 'one', M.keyValueList],
  [['bytesValue', 'bytes_value'], 'scalar'],
  [['stringValueStrindex', 'string_value_strindex'], 'scalar'],
]);
M.anyValue.oneof = true;
define(M.arrayValue, [[['values'], 'list', M.anyValue]]);
define(M.keyValueList, [[['values'], 'list', M.keyValue]]);

const REQUEST: Record<OtlpSignal, Message> = { logs: M.logsRequest, traces: M.tracesRequest };

/** Whether a message is already as the collector writes it: known names, lowerCamelCase, nothing to merge. */
function isCollectorForm(obj: JsonObject, m: Message): boolean {
  let members = 0;
  for (const key in obj) {
    const field = m.fields.get(key);
    if (field === undefined || field.name !== key || key === m.deprecated?.from) return false;
    if (m.oneof && ++members > 1) return false;
  }
  return true;
}

/** Sets a field read from the request: a repeated field appends, any other replaces (pdata's reading). */
function put(target: JsonObject, field: Field, value: unknown): void {
  const previous = target[field.name];
  if ((field.kind === 'list' || field.kind === 'scalars') && Array.isArray(previous)) {
    if (Array.isArray(value)) for (const v of value) previous.push(v);
    return;
  }
  target[field.name] = value;
}

/** The message in the collector's names (a new object when any name changes, else `obj` itself). */
function collectorForm(obj: JsonObject, m: Message): JsonObject {
  if (isCollectorForm(obj, m)) return obj;
  let out: JsonObject = {};
  let deprecated: JsonObject | undefined;
  for (const key of Object.keys(obj)) {
    const field = m.fields.get(key);
    if (field === undefined) continue;
    const value = obj[key];
    if (m.oneof) out = { [field.name]: value };
    else if (field.name === m.deprecated?.from) {
      deprecated ??= {};
      put(deprecated, field, value);
    } else put(out, field, value);
  }
  if (m.deprecated !== undefined && deprecated !== undefined) {
    const current = out[m.deprecated.into];
    const moved = deprecated[m.deprecated.from];
    if ((!Array.isArray(current) || current.length === 0) && Array.isArray(moved))
      out[m.deprecated.into] = moved;
  }
  return out;
}

/** A message still to read: `holder[slot]` (a field of a message), or `list[next…]` (a list's entries). */
type Frame =
  | { holder: JsonObject; slot: string; type: Message }
  | { list: unknown[]; next: number; type: Message };

/** Renames fields of one message in place, lowercases its ids, and queues its messages for reading. */
function visit(obj: JsonObject, m: Message, stack: Frame[]): void {
  for (const key in obj) {
    const field = m.fields.get(key);
    if (field === undefined) continue;
    const value = obj[key];
    if (field.kind === 'id') {
      if (typeof value === 'string') obj[key] = value.toLowerCase();
    } else if (field.kind === 'one') {
      if (isJsonObject(value)) stack.push({ holder: obj, slot: key, type: field.type });
    } else if (field.kind === 'list') {
      if (Array.isArray(value) && value.length > 0) stack.push({ list: value, next: 0, type: field.type });
    }
  }
}

/**
 * Brings an OTLP/JSON export request (already type-checked: where a message or a list of messages is,
 * there is one or null) to the collector's written form; returns it (the same object or its copy).
 */
export function normaliseOtlpJson(signal: OtlpSignal, request: JsonObject): JsonObject {
  const stack: Frame[] = [];
  const top = collectorForm(request, REQUEST[signal]);
  visit(top, REQUEST[signal], stack);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    if ('holder' in frame) {
      stack.pop();
      const value = frame.holder[frame.slot];
      if (!isJsonObject(value)) continue;
      const normalised = collectorForm(value, frame.type);
      if (normalised !== value) frame.holder[frame.slot] = normalised;
      visit(normalised, frame.type, stack);
    } else if (frame.next >= frame.list.length) {
      stack.pop();
    } else {
      const index = frame.next++;
      const value = frame.list[index];
      if (!isJsonObject(value)) continue;
      const normalised = collectorForm(value, frame.type);
      if (normalised !== value) frame.list[index] = normalised;
      visit(normalised, frame.type, stack);
    }
  }
  return top;
}
