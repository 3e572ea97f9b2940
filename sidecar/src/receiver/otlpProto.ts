/**
 * The OTLP protobuf messages the local receiver accepts (logs and traces), as proto text parsed by
 * protobufjs once at first use. Field numbers follow opentelemetry-proto v1 (common, resource, logs,
 * trace). Unknown fields in a request are skipped by the decoder, as protobuf requires.
 */
import protobuf from 'protobufjs';

const OTLP_PROTO = `
syntax = "proto3";
package otlp;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Resource {
  repeated KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}

message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs {
  Resource resource = 1;
  repeated ScopeLogs scope_logs = 2;
  string schema_url = 3;
}
message ScopeLogs {
  InstrumentationScope scope = 1;
  repeated LogRecord log_records = 2;
  string schema_url = 3;
}
message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans {
  Resource resource = 1;
  repeated ScopeSpans scope_spans = 2;
  string schema_url = 3;
}
message ScopeSpans {
  InstrumentationScope scope = 1;
  repeated Span spans = 2;
  string schema_url = 3;
}
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  fixed32 flags = 16;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  repeated Event events = 11;
  uint32 dropped_events_count = 12;
  repeated Link links = 13;
  uint32 dropped_links_count = 14;
  Status status = 15;
}
message Event {
  fixed64 time_unix_nano = 1;
  string name = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Link {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  repeated KeyValue attributes = 4;
  uint32 dropped_attributes_count = 5;
  fixed32 flags = 6;
}
message Status {
  string message = 2;
  int32 code = 3;
}
`;

export type OtlpSignal = 'logs' | 'traces';

let root: protobuf.Root | undefined;
function types(): { logs: protobuf.Type; traces: protobuf.Type } {
  root ??= protobuf.parse(OTLP_PROTO, { keepCase: false }).root;
  return {
    logs: root.lookupType('otlp.ExportLogsServiceRequest'),
    traces: root.lookupType('otlp.ExportTraceServiceRequest'),
  };
}

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * Converts a decoded message to the OTLP/JSON encoding the collector's file exporter writes:
 * lowerCamelCase names, 64-bit integers as decimal strings, trace and span ids as lowercase hex,
 * enums as numbers, zero values and empty lists left out.
 */
function toOtlpJson(value: unknown, key = ''): unknown {
  if (value instanceof Uint8Array) {
    return ID_FIELDS.has(key) ? Buffer.from(value).toString('hex') : Buffer.from(value).toString('base64');
  }
  if (Array.isArray(value)) return value.map((v) => toOtlpJson(v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const converted = toOtlpJson(v, k);
      if (converted === undefined) continue;
      if (Array.isArray(converted) && converted.length === 0) continue;
      if (
        (converted === '' || converted === 0 || converted === '0') &&
        k !== 'stringValue' &&
        k !== 'intValue' &&
        k !== 'doubleValue'
      )
        continue;
      if (converted === false && k !== 'boolValue') continue;
      out[k] = converted;
    }
    return out;
  }
  return value;
}

export type DecodeProtobufResult =
  | { ok: true; message: Record<string, unknown> }
  | { ok: false; reason: string };

/** Decodes an OTLP protobuf request body into its OTLP/JSON object form. */
export function decodeOtlpProtobuf(signal: OtlpSignal, body: Uint8Array): DecodeProtobufResult {
  const type = types()[signal];
  // Hostile input fails here as a value: malformed bytes, or AnyValues nested so deep that decoding
  // or converting them overflows the stack (RangeError).
  try {
    const plain = type.toObject(type.decode(body), {
      longs: String,
      enums: Number,
      bytes: Uint8Array,
      defaults: false,
      oneofs: false,
    });
    return { ok: true, message: toOtlpJson(plain) as Record<string, unknown> };
  } catch (err) {
    // protobufjs throws RangeError for a truncated message too ("index out of range").
    const reason = /call stack/i.test((err as Error).message) ? 'nested too deep' : (err as Error).message;
    return { ok: false, reason: `invalid protobuf: ${reason}` };
  }
}

/** Encodes an OTLP/JSON-shaped object as protobuf (used by tests and clients of the receiver). */
export function encodeOtlpProtobuf(signal: OtlpSignal, message: Record<string, unknown>): Uint8Array {
  const type = types()[signal];
  return type.encode(type.fromObject(fromOtlpJson(message) as Record<string, unknown>)).finish();
}

function fromOtlpJson(value: unknown, key = ''): unknown {
  if (typeof value === 'string' && ID_FIELDS.has(key)) return Buffer.from(value, 'hex');
  if (Array.isArray(value)) return value.map((v) => fromOtlpJson(v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromOtlpJson(v, k);
    return out;
  }
  return value;
}
