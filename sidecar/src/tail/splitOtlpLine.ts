/**
 * Decodes an OTLP/JSON line too long to hold whole, as it streams past in chunks: each log record or
 * span is cut out with its resource and scope and re-emitted as a small line of its own (records of
 * one scope grouped up to GROUP_BYTES), which the ordinary decoder then reads. Memory: one record,
 * the current resource and scope, and the lines emitted (at most `maxOutputBytes`; records past that
 * are left to the marker count, see RecordMarkerCounter).
 *
 * It relies on the order the collector's marshaller writes (proto field order): an entry's
 * `resource` before its `scopeLogs`/`scopeSpans`, a scope's `scope` before its records. A record
 * seen before its resource or scope is emitted without them.
 */
const GROUP_BYTES = 1024 * 1024;
const MAX_KEY_BYTES = 64;
/** Nesting past this is not OTLP: the splitter stops there (the rest is left to the marker count). */
const MAX_DEPTH = 256;

const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

/** What a container is, by its place in an OTLP export request. */
enum Role {
  Other,
  Root,
  Resources,
  ResourceEntry,
  Scopes,
  ScopeEntry,
  Records,
}
/** What the object being captured is. */
enum Capture {
  None,
  Resource,
  Scope,
  Record,
}

const SIGNALS: Record<string, { scopes: string; records: string }> = {
  resourceLogs: { scopes: 'scopeLogs', records: 'logRecords' },
  resourceSpans: { scopes: 'scopeSpans', records: 'spans' },
};

interface Frame {
  role: Role;
  isObject: boolean;
  /** The last key read in this object (values belong to it). */
  key: string;
}

export class OtlpLineSplitter {
  private readonly stack: Frame[] = [];
  private inString = false;
  private escaped = false;
  /** Reading an object key (a string in key position). */
  private readingKey = false;
  private keyBytes: number[] = [];
  private expectKey = false;
  private top = '';
  private resource = '';
  private scope = '';
  /** The object being cut out: its bytes so far, the depth it started at, and what it is. */
  private capture = Capture.None;
  private captureParts: Buffer[] = [];
  private captureBytes = 0;
  private captureDepth = 0;
  private captureTooLong = false;
  private group: string[] = [];
  private groupBytes = 0;
  private outputBytes = 0;
  /** Nested past MAX_DEPTH: nothing more is cut out of this line. */
  private gaveUp = false;
  /** Lines emitted so far. */
  readonly lines: string[] = [];
  /** Records emitted in lines, and records cut out but not emitted (too long, or past the output cap). */
  emitted = 0;
  dropped = 0;

  constructor(
    private readonly maxRecordBytes: number,
    private readonly maxOutputBytes: number,
  ) {}

  feed(chunk: Buffer): void {
    if (this.gaveUp) return;
    let captureFrom = this.capture !== Capture.None ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.readingKey) this.endKey();
        } else if (this.readingKey && this.keyBytes.length < MAX_KEY_BYTES) this.keyBytes.push(c);
        continue;
      }
      if (c === QUOTE) {
        this.inString = true;
        const frame = this.stack[this.stack.length - 1];
        this.readingKey = (frame?.isObject ?? false) && this.expectKey;
        this.keyBytes = [];
      } else if (c === OPEN_OBJ || c === OPEN_ARR) {
        if (this.stack.length >= MAX_DEPTH) {
          this.gaveUp = true;
          this.capture = Capture.None;
          this.captureParts = [];
          return;
        }
        const role = this.childRole(c === OPEN_OBJ);
        if (this.capture === Capture.None && c === OPEN_OBJ) {
          const what = this.captureOf(role);
          if (what !== Capture.None) {
            this.capture = what;
            this.captureDepth = this.stack.length;
            this.captureParts = [];
            this.captureBytes = 0;
            this.captureTooLong = false;
            captureFrom = i;
          }
        }
        this.stack.push({ role, isObject: c === OPEN_OBJ, key: '' });
        this.expectKey = c === OPEN_OBJ;
      } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
        const closed = this.stack.pop();
        if (this.capture !== Capture.None && this.stack.length === this.captureDepth) {
          this.appendCapture(chunk, captureFrom, i + 1);
          captureFrom = -1;
          this.endCapture();
        }
        if (closed?.role === Role.ScopeEntry) {
          this.flushGroup();
          this.scope = '';
        }
        if (closed?.role === Role.ResourceEntry) this.resource = '';
        this.expectKey = false;
      } else if (c === COMMA) {
        const frame = this.stack[this.stack.length - 1];
        this.expectKey = frame?.isObject ?? false;
      } else if (c === COLON) {
        this.expectKey = false;
      }
    }
    if (captureFrom !== -1) this.appendCapture(chunk, captureFrom, chunk.length);
  }

  /** Emits what is grouped; call once the line has ended. */
  finish(): void {
    this.flushGroup();
  }

  private endKey(): void {
    this.readingKey = false;
    const frame = this.stack[this.stack.length - 1];
    if (frame !== undefined) frame.key = Buffer.from(this.keyBytes).toString('utf8');
  }

  /** The role of a container opened as the value of the current key (or element of the current array). */
  private childRole(isObject: boolean): Role {
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined) return isObject ? Role.Root : Role.Other;
    const signal = SIGNALS[this.top];
    switch (parent.role) {
      case Role.Root:
        if (!isObject && SIGNALS[parent.key] !== undefined) {
          if (this.top === '') this.top = parent.key;
          return parent.key === this.top ? Role.Resources : Role.Other;
        }
        return Role.Other;
      case Role.Resources:
        return isObject ? Role.ResourceEntry : Role.Other;
      case Role.ResourceEntry:
        return !isObject && parent.key === signal?.scopes ? Role.Scopes : Role.Other;
      case Role.Scopes:
        return isObject ? Role.ScopeEntry : Role.Other;
      case Role.ScopeEntry:
        return !isObject && parent.key === signal?.records ? Role.Records : Role.Other;
      default:
        return Role.Other;
    }
  }

  /** Whether an object opened now is one to cut out. */
  private captureOf(role: Role): Capture {
    const parent = this.stack[this.stack.length - 1];
    if (parent === undefined || role !== Role.Other) return Capture.None;
    if (parent.role === Role.ResourceEntry && parent.key === 'resource') return Capture.Resource;
    if (parent.role === Role.ScopeEntry && parent.key === 'scope') return Capture.Scope;
    if (parent.role === Role.Records) return Capture.Record;
    return Capture.None;
  }

  private appendCapture(chunk: Buffer, from: number, to: number): void {
    if (this.captureTooLong || to <= from) return;
    this.captureBytes += to - from;
    if (this.captureBytes > this.maxRecordBytes) {
      this.captureTooLong = true;
      this.captureParts = [];
      return;
    }
    this.captureParts.push(Buffer.from(chunk.subarray(from, to)));
  }

  private endCapture(): void {
    const what = this.capture;
    this.capture = Capture.None;
    const text = this.captureTooLong ? '' : Buffer.concat(this.captureParts).toString('utf8');
    this.captureParts = [];
    if (what === Capture.Resource) this.resource = text;
    else if (what === Capture.Scope) {
      this.flushGroup();
      this.scope = text;
    } else if (what === Capture.Record) {
      if (this.captureTooLong || this.outputBytes + text.length > this.maxOutputBytes) {
        this.dropped++;
        return;
      }
      if (this.groupBytes + text.length > GROUP_BYTES) this.flushGroup();
      this.group.push(text);
      this.groupBytes += text.length + 1;
      this.outputBytes += text.length + 1;
    }
  }

  private flushGroup(): void {
    if (this.group.length === 0) return;
    const signal = SIGNALS[this.top] as { scopes: string; records: string };
    const resource = this.resource !== '' ? `"resource":${this.resource},` : '';
    const scope = this.scope !== '' ? `"scope":${this.scope},` : '';
    this.lines.push(
      `{"${this.top}":[{${resource}"${signal.scopes}":[{${scope}"${signal.records}":[${this.group.join(',')}]}]}]}`,
    );
    this.emitted += this.group.length;
    this.group = [];
    this.groupBytes = 0;
  }
}
