import { RESOURCE_ATTR } from '@spendline/sdk/contract';
import { type JsonAnyValue, stringValue } from './anyValue.js';
import { attributeOf, type ResourceInfo, type Slot, type UsageDraft } from './usageDraft.js';
import { UNKNOWN_SERVICE } from './usageRecord.js';

/**
 * The fast path for the collector's log lines: reads an `ExportLogsServiceRequest` in OTLP/JSON straight
 * from the line's text into the decoder's draft, without building the object tree `JSON.parse` builds
 * (most of which — bodies, resource and scope attributes, unknown attributes — the decoder never looks at).
 *
 * It is exact or it declines: it answers false, having handed nothing on that counts, for anything it
 * does not take in full, and the caller then decodes the line with `JSON.parse` as before. It takes
 * a line only when
 * - the line has no backslash and no control character (so a string is the text between two quotes,
 *   with nothing to unescape, and JSON's only whitespace left is the space),
 * - the line is one JSON object, valid to the last byte (every value it does not read is still checked
 *   against JSON's grammar), holding `resourceLogs` and neither `resourceSpans` nor `resourceMetrics`,
 * - every level the decoder reads has the type OTLP gives it (arrays of objects, string keys and names,
 *   scalar record fields, attribute values as objects without `arrayValue`, `kvlistValue` or
 *   `bytesValue`), no key the decoder reads appears twice in one object (`JSON.parse` keeps the last),
 *   and a resource's `resource` comes before its `scopeLogs`, a scope's `scope` before its `logRecords`
 *   (the collector's order).
 * What it hands on is what `JSON.parse` would give for the same fields: the same strings, numbers
 * (`Number` of a number's text, which is JSON.parse's value), booleans and nulls, in the same order.
 * `test/decode-scan.test.ts` decodes every fixture and thousands of mutated lines both ways.
 *
 * Strings it hands on to be kept (attribute values, resource and scope names) are copies: V8 cuts a
 * string of 13 or more characters out of another as a slice that keeps the whole line (up to megabytes)
 * alive for as long as the piece is kept. Record fields the decoder only compares, parses or hashes while
 * the line is decoded (event name, ids, times) and keys are not copied.
 */

/** The record fields the decoder reads besides its attributes, each as `JSON.parse` would give it. */
export interface ScannedLogFields {
  eventName: unknown;
  traceId: unknown;
  spanId: unknown;
  flags: unknown;
  timeUnixNano: unknown;
  observedTimeUnixNano: unknown;
}

/** Where the scanner hands the line's log records, in order (the draft holds each one's attributes). */
export interface LogLineSink {
  record(fields: ScannedLogFields, res: ResourceInfo, scopeName: string): void;
}

/** Thrown inside the scanner when it declines a line; never escapes it. */
const DECLINE = new Error('left to JSON.parse');
/** A backslash (an escape to undo) or a control character (which JSON.parse rejects inside strings). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what the scanner leaves to JSON.parse
const NOT_PLAIN = /[\u0000-\u001f\\]/;
/** Attribute positions lookup() remembers. */
const LOOKUP_CACHE = 64;
/** V8 keeps a cut of at least this many characters as a slice of its parent string. */
const SLICE_MIN = 13;

const QUOTE = 34;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const SPACE = 32;

/**
 * The collector's attribute, `{"key":"…","value":{"stringValue":"…"}}`, matched piece by piece with
 * hasAt (measured faster than startsWith at a position, a runtime call in V8, and than comparing
 * character codes one by one).
 */
const KEY_OPEN = '{"key":"';
const VALUE_OPEN = '","value":{';
const STRING_VALUE = '"stringValue":"';
const INT_VALUE = '"intValue":"';

/** `s` holds `expected` at `at`: a cut and an === (V8 compares lengths, then bytes). */
function hasAt(s: string, at: number, expected: string): boolean {
  return s.slice(at, at + expected.length) === expected;
}

// Record fields by bit, for the "key seen twice" check.
const F_ATTRIBUTES = 1;
const F_EVENT_NAME = 2;
const F_TRACE_ID = 4;
const F_SPAN_ID = 8;
const F_FLAGS = 16;
const F_TIME = 32;
const F_OBSERVED = 64;

// AnyValue fields by bit.
const V_STRING = 1;
const V_INT = 2;
const V_DOUBLE = 4;
const V_BOOL = 8;

class LogLineScanner {
  s = '';
  i = 0;
  /** The last attribute value read into `value`: whether it held arrayValue, kvlistValue or bytesValue. */
  private complex = false;
  /** Whether the last KeyValue read member by member had an object for its value. */
  private valueIsObject = false;
  private readonly value = {
    stringValue: undefined as unknown,
    intValue: undefined as unknown,
    doubleValue: undefined as unknown,
    boolValue: undefined as unknown,
  };
  /** lookup()'s memory: the known attribute last seen at each position of a record. */
  private readonly byPosition: (readonly [string, Slot] | undefined)[] = new Array(LOOKUP_CACHE).fill(
    undefined,
  );
  private readonly fields: ScannedLogFields = {
    eventName: undefined,
    traceId: undefined,
    spanId: undefined,
    flags: undefined,
    timeUnixNano: undefined,
    observedTimeUnixNano: undefined,
  };

  constructor(
    private draft: UsageDraft,
    private sink: LogLineSink,
  ) {}

  reset(line: string, draft: UsageDraft, sink: LogLineSink): void {
    this.s = line;
    this.i = 0;
    this.draft = draft;
    this.sink = sink;
  }

  // --- JSON, as far as this line format needs it ---------------------------------------------------

  private ws(): void {
    while (this.s.charCodeAt(this.i) === SPACE) this.i++;
  }

  /** After optional spaces, the next character is `c`: step over it. */
  private expect(c: number): void {
    this.ws();
    if (this.s.charCodeAt(this.i) !== c) throw DECLINE;
    this.i++;
  }

  /** After optional spaces, the next character (not consumed). */
  private peek(): number {
    this.ws();
    return this.s.charCodeAt(this.i);
  }

  /**
   * Reads `"key":` and returns the key (compared with ===, which V8 does by length first: cheaper than
   * startsWith at a position); leaves `i` at the value.
   */
  private key(): string {
    const s = this.s;
    this.ws();
    if (s.charCodeAt(this.i) !== QUOTE) throw DECLINE;
    const end = s.indexOf('"', this.i + 1);
    if (end < 0) throw DECLINE;
    const key = s.slice(this.i + 1, end);
    this.i = end + 1;
    this.expect(COLON);
    this.ws();
    return key;
  }

  /** After an object member or array element: true for `,` (another follows), false at `close`. */
  private more(close: number): boolean {
    this.ws();
    const c = this.s.charCodeAt(this.i++);
    if (c === COMMA) return true;
    if (c === close) return false;
    throw DECLINE;
  }

  /** Steps into an object (`{` next): false when it is empty (and stepped over). */
  private openObject(): boolean {
    return this.open(OPEN_BRACE, CLOSE_BRACE);
  }

  /** Steps into an array (`[` next): false when it is empty (and stepped over). */
  private openArray(): boolean {
    return this.open(OPEN_BRACKET, CLOSE_BRACKET);
  }

  private open(opening: number, closing: number): boolean {
    this.expect(opening);
    if (this.peek() === closing) {
      this.i++;
      return false;
    }
    return true;
  }

  /** The string at `i` (its quotes stepped over), cut from the line: for keys, which are not kept. */
  private rawString(): string {
    const s = this.s;
    const start = this.i + 1;
    const end = s.indexOf('"', start);
    if (end < 0) throw DECLINE;
    this.i = end + 1;
    return s.slice(start, end);
  }

  /** The string at `i` (its quotes stepped over), a copy that does not hold on to the line. */
  private string(): string {
    const s = this.s;
    if (s.charCodeAt(this.i) !== QUOTE) throw DECLINE;
    const start = this.i + 1;
    const end = s.indexOf('"', start);
    if (end < 0) throw DECLINE;
    this.i = end + 1;
    if (end - start < SLICE_MIN) return s.slice(start, end);
    return `${s.slice(start, end)} `.slice(0, -1);
  }

  /** Steps over a number, checking JSON's grammar; returns where it started. */
  private number(): number {
    const s = this.s;
    const start = this.i;
    let i = this.i;
    let c = s.charCodeAt(i);
    if (c === 45) c = s.charCodeAt(++i);
    if (c === 48) c = s.charCodeAt(++i);
    else if (c >= 49 && c <= 57) {
      do c = s.charCodeAt(++i);
      while (c >= 48 && c <= 57);
    } else throw DECLINE;
    if (c === 46) {
      c = s.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) throw DECLINE;
      do c = s.charCodeAt(++i);
      while (c >= 48 && c <= 57);
    }
    if (c === 101 || c === 69) {
      c = s.charCodeAt(++i);
      if (c === 43 || c === 45) c = s.charCodeAt(++i);
      if (!(c >= 48 && c <= 57)) throw DECLINE;
      do c = s.charCodeAt(++i);
      while (c >= 48 && c <= 57);
    }
    this.i = i;
    return start;
  }

  /**
   * A string, number, boolean or null (spaces before it skipped); an object or array declines. A string is
   * a copy when `keep`: the record fields are only compared, parsed or hashed while the line is decoded.
   */
  private scalar(keep: boolean): unknown {
    const c = this.peek();
    if (c === QUOTE) return keep ? this.string() : this.rawString();
    if (c === 116 /* t */) return this.literal('true', true);
    if (c === 102 /* f */) return this.literal('false', false);
    if (c === 110 /* n */) return this.literal('null', null);
    const start = this.number();
    return Number(this.s.slice(start, this.i));
  }

  private literal<T>(text: string, value: T): T {
    if (!this.s.startsWith(text, this.i)) throw DECLINE;
    this.i += text.length;
    return value;
  }

  /** Steps over any JSON value, checking it (deep nesting overflows the stack: the line is declined). */
  private skipValue(): void {
    const c = this.peek();
    if (c === OPEN_BRACE) {
      if (!this.openObject()) return;
      do {
        this.key();
        this.skipValue();
      } while (this.more(CLOSE_BRACE));
      return;
    }
    if (c === OPEN_BRACKET) {
      if (!this.openArray()) return;
      do this.skipValue();
      while (this.more(CLOSE_BRACKET));
      return;
    }
    if (c === QUOTE) {
      const end = this.s.indexOf('"', this.i + 1);
      if (end < 0) throw DECLINE;
      this.i = end + 1;
      return;
    }
    if (c === 116) this.literal('true', true);
    else if (c === 102) this.literal('false', false);
    else if (c === 110) this.literal('null', null);
    else this.number();
  }

  // --- OTLP logs -------------------------------------------------------------------------------------

  /** The whole line: `{"resourceLogs":[…]}` and nothing after it but spaces. */
  line(): void {
    let seen = false;
    if (this.openObject()) {
      do {
        const k = this.key();
        if (k === 'resourceLogs') {
          if (seen) throw DECLINE;
          seen = true;
          if (this.openArray()) {
            do this.resource();
            while (this.more(CLOSE_BRACKET));
          }
        } else if (k === 'resourceSpans' || k === 'resourceMetrics') throw DECLINE;
        else this.skipValue();
      } while (this.more(CLOSE_BRACE));
    }
    this.ws();
    if (!seen || this.i !== this.s.length) throw DECLINE;
  }

  /** One `ResourceLogs`: its resource first, then its scopes. */
  private resource(): void {
    let service = '';
    let serviceVersion = '';
    let environment = '';
    let res: ResourceInfo | null = null;
    let seenResource = false;
    if (!this.openObject()) return;
    do {
      const k = this.key();
      if (k === 'resource') {
        if (seenResource || res !== null) throw DECLINE;
        seenResource = true;
        if (!this.openObject()) continue;
        let seenAttributes = false;
        do {
          const k = this.key();
          if (k !== 'attributes') {
            this.skipValue();
            continue;
          }
          if (seenAttributes) throw DECLINE;
          seenAttributes = true;
          if (!this.openArray()) continue;
          do {
            // As resourceInfo() reads them: the last of each key wins; a value that is not an object is skipped.
            const which = this.keyValue();
            if (which < 0) continue;
            const v = stringValue(this.value as JsonAnyValue) ?? '';
            if (which === 0) service = v;
            else if (which === 1) serviceVersion = v;
            else environment = v;
          } while (this.more(CLOSE_BRACKET));
        } while (this.more(CLOSE_BRACE));
      } else if (k === 'scopeLogs') {
        if (res !== null) throw DECLINE;
        res = { service: service || UNKNOWN_SERVICE, serviceVersion, environment };
        if (!this.openArray()) continue;
        do this.scope(res);
        while (this.more(CLOSE_BRACKET));
      } else this.skipValue();
    } while (this.more(CLOSE_BRACE));
  }

  /**
   * A resource attribute: 0, 1 or 2 for service.name, service.version and deployment.environment.name
   * with its value (an object) in `value`; -1 for any other key or a value that is not an object.
   */
  private keyValue(): number {
    const key = this.keyValueMembers();
    let which = -1;
    if (key === RESOURCE_ATTR.serviceName) which = 0;
    else if (key === RESOURCE_ATTR.serviceVersion) which = 1;
    else if (key === RESOURCE_ATTR.deploymentEnvironmentName) which = 2;
    if (which < 0 || !this.valueIsObject) return -1;
    if (this.complex) throw DECLINE;
    return which;
  }

  /** An `AnyValue` object (`{` next) into `value`; `complex` when it holds a list, map or bytes. */
  private anyValue(): void {
    const v = this.value;
    v.stringValue = undefined;
    v.intValue = undefined;
    v.doubleValue = undefined;
    v.boolValue = undefined;
    this.complex = false;
    let seen = 0;
    if (!this.openObject()) return;
    do {
      const k = this.key();
      let bit = 0;
      if (k === 'stringValue') bit = V_STRING;
      else if (k === 'intValue') bit = V_INT;
      else if (k === 'doubleValue') bit = V_DOUBLE;
      else if (k === 'boolValue') bit = V_BOOL;
      if (bit === 0) {
        if (k === 'arrayValue' || k === 'kvlistValue' || k === 'bytesValue') this.complex = true;
        this.skipValue();
        continue;
      }
      if ((seen & bit) !== 0) throw DECLINE;
      seen |= bit;
      const x = this.scalar(true);
      if (bit === V_STRING) v.stringValue = x;
      else if (bit === V_INT) v.intValue = x;
      else if (bit === V_DOUBLE) v.doubleValue = x;
      else v.boolValue = x;
    } while (this.more(CLOSE_BRACE));
  }

  /** One `ScopeLogs`: its scope's name, then its records. */
  private scope(res: ResourceInfo): void {
    let name = '';
    let seenScope = false;
    let seenRecords = false;
    if (!this.openObject()) return;
    do {
      const k = this.key();
      if (k === 'scope') {
        if (seenScope || seenRecords) throw DECLINE;
        seenScope = true;
        if (!this.openObject()) continue;
        let seenName = false;
        do {
          const k = this.key();
          if (k !== 'name') {
            this.skipValue();
            continue;
          }
          if (seenName) throw DECLINE;
          seenName = true;
          name = this.string();
        } while (this.more(CLOSE_BRACE));
      } else if (k === 'logRecords') {
        if (seenRecords) throw DECLINE;
        seenRecords = true;
        if (!this.openArray()) continue;
        do this.record(res, name);
        while (this.more(CLOSE_BRACKET));
      } else this.skipValue();
    } while (this.more(CLOSE_BRACE));
  }

  /** One `LogRecord`: its attributes into the draft, the fields the decoder reads, then to the sink. */
  private record(res: ResourceInfo, scopeName: string): void {
    const f = this.fields;
    f.eventName = undefined;
    f.traceId = undefined;
    f.spanId = undefined;
    f.flags = undefined;
    f.timeUnixNano = undefined;
    f.observedTimeUnixNano = undefined;
    this.draft.reset();
    let seen = 0;
    if (this.openObject()) {
      do {
        const k = this.key();
        let bit = 0;
        if (k === 'attributes') bit = F_ATTRIBUTES;
        else if (k === 'eventName') bit = F_EVENT_NAME;
        else if (k === 'traceId') bit = F_TRACE_ID;
        else if (k === 'spanId') bit = F_SPAN_ID;
        else if (k === 'flags') bit = F_FLAGS;
        else if (k === 'timeUnixNano') bit = F_TIME;
        else if (k === 'observedTimeUnixNano') bit = F_OBSERVED;
        if (bit === 0) {
          this.skipValue();
          continue;
        }
        if ((seen & bit) !== 0) throw DECLINE;
        seen |= bit;
        if (bit === F_ATTRIBUTES) {
          if (this.openArray()) {
            let n = 0;
            do this.attribute(n++);
            while (this.more(CLOSE_BRACKET));
          }
        } else {
          const x = this.scalar(false);
          if (bit === F_EVENT_NAME) f.eventName = x;
          else if (bit === F_TRACE_ID) f.traceId = x;
          else if (bit === F_SPAN_ID) f.spanId = x;
          else if (bit === F_FLAGS) f.flags = x;
          else if (bit === F_TIME) f.timeUnixNano = x;
          else f.observedTimeUnixNano = x;
        }
      } while (this.more(CLOSE_BRACE));
    }
    this.sink.record(f, res, scopeName);
  }

  /**
   * One attribute `KeyValue` into the draft. The collector writes `{"key":"…","value":{…}}`: read as
   * that; anything else (other order, spaces, more members) is read member by member from its start.
   */
  private attribute(n: number): void {
    const s = this.s;
    const start = this.i;
    if (hasAt(s, start, KEY_OPEN)) {
      const keyAt = start + KEY_OPEN.length;
      const keyEnd = s.indexOf('"', keyAt);
      if (keyEnd > 0 && hasAt(s, keyEnd, VALUE_OPEN)) {
        const known = this.lookup(n, s.slice(keyAt, keyEnd));
        this.i = keyEnd + VALUE_OPEN.length - 1;
        if (known === undefined) this.skipValue();
        else if (!this.plainValue(keyEnd + VALUE_OPEN.length)) this.anyValue();
        if (s.charCodeAt(this.i) === CLOSE_BRACE) {
          this.i++;
          if (known !== undefined) this.addValue(known[1], known[0]);
          return;
        }
        this.i = start;
      }
    }
    this.attributeMembers();
  }

  /**
   * The collector's `"stringValue":"…"}` or `"intValue":"…"}` at `at` into `value` (i after its `}`);
   * false, nothing read, for anything else.
   */
  private plainValue(at: number): boolean {
    const s = this.s;
    let start: number;
    let isString: boolean;
    if (hasAt(s, at, STRING_VALUE)) {
      start = at + STRING_VALUE.length;
      isString = true;
    } else if (hasAt(s, at, INT_VALUE)) {
      start = at + INT_VALUE.length;
      isString = false;
    } else return false;
    const end = s.indexOf('"', start);
    if (end < 0 || s.charCodeAt(end + 1) !== CLOSE_BRACE) return false;
    const text = end - start < SLICE_MIN ? s.slice(start, end) : `${s.slice(start, end)} `.slice(0, -1);
    const v = this.value;
    v.stringValue = isString ? text : undefined;
    v.intValue = isString ? undefined : text;
    v.doubleValue = undefined;
    v.boolValue = undefined;
    this.complex = false;
    this.i = end + 2;
    return true;
  }

  /**
   * attributeOf(key), remembering the answer by the attribute's position in its record: an emitter
   * writes its records' attributes in the same order, so the next record's nth key is usually the same
   * and costs one comparison.
   */
  private lookup(n: number, key: string): readonly [string, Slot] | undefined {
    if (n < LOOKUP_CACHE) {
      const hit = this.byPosition[n];
      if (hit !== undefined && hit[0] === key) return hit;
    }
    const known = attributeOf(key);
    if (known !== undefined && n < LOOKUP_CACHE) this.byPosition[n] = known;
    return known;
  }

  private attributeMembers(): void {
    const known = attributeOf(this.keyValueMembers());
    if (known === undefined) return;
    if (!this.valueIsObject) throw DECLINE;
    this.addValue(known[1], known[0]);
  }

  /**
   * A `KeyValue` read member by member (any order, spaces, other members skipped): its key, with its
   * value read into `value` when an object (`valueIsObject`). Declines a KeyValue without a string key
   * or with an array for its value (a rejection or an empty value the JSON.parse path words).
   */
  private keyValueMembers(): string {
    const s = this.s;
    let key: string | null = null;
    let valueSeen = false;
    this.valueIsObject = false;
    if (this.openObject()) {
      do {
        const k = this.key();
        if (k === 'key') {
          if (key !== null || s.charCodeAt(this.i) !== QUOTE) throw DECLINE;
          key = this.rawString();
        } else if (k === 'value') {
          if (valueSeen || s.charCodeAt(this.i) === OPEN_BRACKET) throw DECLINE;
          valueSeen = true;
          this.valueIsObject = s.charCodeAt(this.i) === OPEN_BRACE;
          if (this.valueIsObject) this.anyValue();
          else this.skipValue();
        } else this.skipValue();
      } while (this.more(CLOSE_BRACE));
    }
    if (key === null) throw DECLINE;
    return key;
  }

  private addValue(slot: Slot, key: string): void {
    if (this.complex) throw DECLINE;
    this.draft.addValue(slot, key, this.value as JsonAnyValue);
  }
}

let scanner: LogLineScanner | null = null;

/**
 * Reads a line of OTLP/JSON logs into `sink` (see the top of this file); false, with nothing that counts
 * handed on, when the line is left to `JSON.parse` (then whatever the sink gathered is to be dropped).
 */
export function scanOtlpLogsLine(line: string, draft: UsageDraft, sink: LogLineSink): boolean {
  if (!line.includes('"resourceLogs"') || NOT_PLAIN.test(line)) return false;
  if (scanner === null) scanner = new LogLineScanner(draft, sink);
  scanner.reset(line, draft, sink);
  try {
    scanner.line();
    return true;
  } catch {
    // DECLINE, or a stack overflow on deep nesting: the line is JSON.parse's.
    return false;
  } finally {
    scanner.s = '';
  }
}
