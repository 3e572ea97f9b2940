import { RESOURCE_ATTR, SDK_SCOPE_NAME, USAGE_EVENT_NAME } from '@spendline/sdk/contract';
import { type JsonAnyValue, nanosToMs, normalizeId, stringValue, subMsFraction } from './anyValue.js';
import { lineHash } from './lineHash.js';
import { isBlank, withoutLeadingNoise } from './lineText.js';
import { type LogLineSink, type ScannedLogFields, scanOtlpLogsLine } from './otlpLogScan.js';
import {
  AWS_SDK_SCOPE,
  awsSdkInvokeModelOperation,
  canonicalOperation,
  INFERENCE_OPERATIONS,
  LLM_REQUEST_TYPES,
  OPENLLMETRY_OPENAI_SCOPE,
  OPENLLMETRY_RESPONSES_SPAN,
  vercelOperation,
} from './spanOperation.js';
import { type ResourceInfo, UsageDraft } from './usageDraft.js';
import { type DecodeOutcome, type Rejection, UNKNOWN_SERVICE } from './usageRecord.js';
import {
  hasProviderSdkSpans,
  hasSdkSpans,
  inferenceParentIds,
  isMarkedBySdk,
  isOpenInferenceScope,
  scopeSpanIds,
} from './wrapperSpans.js';

const draft = new UsageDraft();
/** Span status code ERROR (enum as a number in OTLP/JSON; the name tolerated). */
const STATUS_CODE_ERROR = 2;
/** semconv's fallback `error.type` when the failure has no better name. */
const OTHER_ERROR_TYPE = '_OTHER';

/**
 * Cheap pre-check: the collector's GenAI pipeline only lets through records that carry one of these,
 * so a line without any of them is ordinary telemetry and is never parsed.
 */
function mayCarryUsage(line: string): boolean {
  return (
    line.includes('gen_ai.') ||
    line.includes('spendline.') ||
    line.includes('llm.') ||
    line.includes('ai.operationId')
  );
}

function countOccurrences(line: string, needle: string): number {
  let n = 0;
  let i = line.indexOf(needle);
  while (i !== -1) {
    n++;
    i = line.indexOf(needle, i + needle.length);
  }
  return n;
}

/** Records in a line skipped unparsed, estimated by their per-record fields (at least 1 per line). */
function estimateRecords(line: string, isSpans: boolean): number {
  const n = isSpans
    ? countOccurrences(line, '"endTimeUnixNano"')
    : countOccurrences(line, '"observedTimeUnixNano"') || countOccurrences(line, '"timeUnixNano"');
  return n > 0 ? n : 1;
}

/**
 * Metrics (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`, OpenLIT's `gen_ai.usage.cost`)
 * repeat what the spans and events already carry: never counted. Ignored records = metrics in the line.
 */
function countMetrics(resourceMetrics: unknown): number {
  let n = 0;
  if (!Array.isArray(resourceMetrics)) return 1;
  for (const rm of resourceMetrics) {
    const scopes =
      typeof rm === 'object' && rm !== null ? (rm as { scopeMetrics?: unknown }).scopeMetrics : null;
    if (!Array.isArray(scopes)) continue;
    for (const sm of scopes) {
      const metrics = typeof sm === 'object' && sm !== null ? (sm as { metrics?: unknown }).metrics : null;
      if (Array.isArray(metrics)) n += metrics.length;
    }
  }
  return n > 0 ? n : 1;
}

/** Tracer names of the Vercel AI SDK 7 OpenTelemetry integration (`@ai-sdk/otel`) and of older versions. */
const AI_SDK_SCOPES: ReadonlySet<string> = new Set(['gen_ai', 'ai']);

/**
 * Decodes one line of the collector's file export: an `ExportLogsServiceRequest` or
 * `ExportTraceServiceRequest` in OTLP/JSON with any number of records. Never throws.
 */
export function decodeOtlpJsonLine(text: string): DecodeOutcome {
  return decodeLine(text, true);
}

/** decodeOtlpJsonLine through JSON.parse only, never the log-line scanner (what the scanner is tested against). */
export function decodeOtlpJsonLineByParse(text: string): DecodeOutcome {
  return decodeLine(text, false);
}

function decodeLine(text: string, scan: boolean): DecodeOutcome {
  const out: DecodeOutcome = { records: [], rejected: [], ignored: 0 };
  const line = withoutLeadingNoise(text);
  // A blank line holds no record (a stray newline, a CRLF file's empty line): nothing to count.
  if (isBlank(line)) return out;
  decodeRequests(line, out, true, scan);
  return out;
}

/** Where each export request in a line starts (the collector writes `{"resourceLogs":[…`). */
const REQUEST_START = /\{\s*"resource(Logs|Spans|Metrics)"/g;

/**
 * The requests of a line that is not one JSON document but several run together: a collector killed
 * between writing a request and its newline (or part way through a request) and restarted with
 * `append` writes its next request on the same line. Each request is decoded on its own, so the
 * complete ones count and only a cut one is rejected. Undefined when the line has no second request.
 */
function requestsRunTogether(line: string): string[] | undefined {
  const starts: number[] = [];
  REQUEST_START.lastIndex = 1;
  for (let m = REQUEST_START.exec(line); m !== null; m = REQUEST_START.exec(line)) starts.push(m.index);
  if (starts.length === 0) return undefined;
  return [0, ...starts].map((start, i) => line.slice(start, starts[i] ?? line.length));
}

/** Decodes one line into `out`: a request, or (`split`) requests run together on one line. */
function decodeRequests(line: string, out: DecodeOutcome, split: boolean, scan: boolean): void {
  if (!mayCarryUsage(line)) {
    const isLogs = line.includes('"resourceLogs"');
    if (isLogs || line.includes('"resourceSpans"')) {
      out.ignored = estimateRecords(line, !isLogs);
      return;
    }
    if (line.includes('"resourceMetrics"')) {
      out.ignored = Math.max(1, countOccurrences(line, '"name"'));
      return;
    }
  }
  if (scan && scanLogs(line, out)) return;
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (e) {
    const parts = split ? requestsRunTogether(line) : undefined;
    if (parts !== undefined) {
      for (const part of parts) decodeRequests(part, out, false, scan);
      return;
    }
    // Every record the line held is lost, not one: counted by the markers its records carry.
    const rejection: Rejection = { reason: 'bad_json', detail: (e as Error).message.slice(0, 200) };
    const logsAt = line.indexOf('"resourceLogs"');
    const spansAt = line.indexOf('"resourceSpans"');
    const n =
      logsAt < 0 && spansAt < 0 ? 1 : estimateRecords(line, logsAt < 0 || (spansAt >= 0 && spansAt < logsAt));
    for (let i = 0; i < n; i++) out.rejected.push(rejection);
    return;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    out.rejected.push({ reason: 'not_otlp', detail: 'not a JSON object' });
    return;
  }
  const { resourceLogs, resourceSpans, resourceMetrics } = doc as {
    resourceLogs?: unknown;
    resourceSpans?: unknown;
    resourceMetrics?: unknown;
  };
  if (resourceLogs === undefined && resourceSpans === undefined) {
    if (resourceMetrics !== undefined) out.ignored = countMetrics(resourceMetrics);
    else out.rejected.push({ reason: 'not_otlp', detail: 'no resourceLogs or resourceSpans' });
    return;
  }
  const ctx = lineContext(line, resourceSpans);
  if (resourceLogs !== undefined)
    decodeResources(resourceLogs, 'scopeLogs', 'logRecords', out, ctx, decodeLogRecord);
  if (resourceSpans !== undefined)
    decodeResources(resourceSpans, 'scopeSpans', 'spans', out, ctx, decodeSpan);
}

function lineContext(line: string, resourceSpans: unknown): LineContext {
  return {
    line,
    hash: '',
    index: 0,
    scopeName: '',
    parents: null,
    resourceSpans,
    inferenceParents: null,
    providerSdkSpans: -1,
    sdkSpans: -1,
    sdkSpanIds: null,
  };
}

/**
 * The fast path for a line of logs (otlpLogScan.ts): its records read straight from the text into `out`.
 * False, with `out` as it was, when the scanner leaves the line to JSON.parse.
 */
function scanLogs(line: string, out: DecodeOutcome): boolean {
  const records = out.records.length;
  const rejected = out.rejected.length;
  const ignored = out.ignored;
  const ctx = lineContext(line, undefined);
  const sink: LogLineSink = {
    record(fields, res, scopeName) {
      ctx.index++;
      ctx.scopeName = scopeName;
      finishLogRecord(fields, res, out, ctx);
    },
  };
  if (scanOtlpLogsLine(line, draft, sink)) return true;
  out.records.length = records;
  out.rejected.length = rejected;
  out.ignored = ignored;
  return false;
}

interface LineContext {
  line: string;
  /** Hash of the line, computed only if some record has no id at all. */
  hash: string;
  /** Position of the record in the line, for the fallback dedup key. */
  index: number;
  /** Instrumentation scope name of the records being decoded. */
  scopeName: string;
  /** For the AI SDK's spans only: the parent span ids among the scope's spans in this line. */
  parents: Set<string> | null;
  /** The line's spans, for the nested-inference check below. */
  resourceSpans: unknown;
  /** The ids of spans in this line with an inference span as a child; computed when first needed. */
  inferenceParents: Set<string> | null;
  /** Whether the line holds spans of a provider SDK's own telemetry (-1 not looked yet, 0 no, 1 yes). */
  providerSdkSpans: number;
  /** Whether the line holds spans of this SDK (-1 not looked yet, 0 no, 1 yes). */
  sdkSpans: number;
  /** The ids of this SDK's spans in the line; computed when first needed. */
  sdkSpanIds: Set<string> | null;
}

/** Whether an inference span may wrap another emitter's span of the same call (so its children matter). */
function mayWrapInferenceSpan(ctx: LineContext): boolean {
  if (isOpenInferenceScope(ctx.scopeName)) return true;
  if (ctx.scopeName === SDK_SCOPE_NAME) return false;
  if (lineHasSdkSpans(ctx)) return true;
  if (ctx.providerSdkSpans < 0) ctx.providerSdkSpans = hasProviderSdkSpans(ctx.line) ? 1 : 0;
  return ctx.providerSdkSpans === 1;
}

function lineHasSdkSpans(ctx: LineContext): boolean {
  if (ctx.sdkSpans < 0) ctx.sdkSpans = hasSdkSpans(ctx.line, SDK_SCOPE_NAME) ? 1 : 0;
  return ctx.sdkSpans === 1;
}

/** Another emitter's span inside this SDK's span: the same call, which the SDK's record counts. */
function isInsideSdkSpan(s: Record<string, unknown>, ctx: LineContext): boolean {
  if (ctx.scopeName === SDK_SCOPE_NAME || !lineHasSdkSpans(ctx)) return false;
  const parent = normalizeId(s.parentSpanId, 8);
  if (parent === '') return false;
  if (ctx.sdkSpanIds === null) ctx.sdkSpanIds = scopeSpanIds(ctx.resourceSpans, SDK_SCOPE_NAME);
  return ctx.sdkSpanIds.has(parent);
}

/** The lowercase parent span ids of a list of spans. */
function parentIds(spans: unknown[]): Set<string> {
  const ids = new Set<string>();
  for (const sp of spans) {
    if (typeof sp !== 'object' || sp === null) continue;
    const p = normalizeId((sp as { parentSpanId?: unknown }).parentSpanId, 8);
    if (p !== '') ids.add(p);
  }
  return ids;
}

type RecordDecoder = (
  r: Record<string, unknown>,
  res: ResourceInfo,
  out: DecodeOutcome,
  ctx: LineContext,
) => void;

function decodeResources(
  resources: unknown,
  scopeKey: 'scopeLogs' | 'scopeSpans',
  recordKey: 'logRecords' | 'spans',
  out: DecodeOutcome,
  ctx: LineContext,
  decodeRecord: RecordDecoder,
): void {
  if (!Array.isArray(resources)) {
    out.rejected.push({ reason: 'not_otlp', detail: `resource list is not an array` });
    return;
  }
  for (const rs of resources) {
    if (typeof rs !== 'object' || rs === null) {
      out.rejected.push({ reason: 'not_otlp', detail: 'resource entry is not an object' });
      continue;
    }
    const entry = rs as Record<string, unknown>;
    const res = resourceInfo(entry.resource);
    const scopes = entry[scopeKey];
    if (scopes === undefined) continue;
    if (!Array.isArray(scopes)) {
      out.rejected.push({ reason: 'not_otlp', detail: `${scopeKey} is not an array` });
      continue;
    }
    for (const scope of scopes) {
      const records =
        typeof scope === 'object' && scope !== null ? (scope as Record<string, unknown>)[recordKey] : null;
      const scopeInfo =
        typeof scope === 'object' && scope !== null ? (scope as { scope?: unknown }).scope : null;
      const scopeName =
        typeof scopeInfo === 'object' && scopeInfo !== null ? (scopeInfo as { name?: unknown }).name : '';
      ctx.scopeName = typeof scopeName === 'string' ? scopeName : '';
      if (records === undefined) continue;
      if (!Array.isArray(records)) {
        out.rejected.push({ reason: 'not_otlp', detail: `${recordKey} is not an array` });
        continue;
      }
      ctx.parents = recordKey === 'spans' && AI_SDK_SCOPES.has(ctx.scopeName) ? parentIds(records) : null;
      for (const r of records) {
        ctx.index++;
        if (typeof r !== 'object' || r === null) {
          out.rejected.push({ reason: 'not_otlp', detail: `${recordKey} entry is not an object` });
          continue;
        }
        decodeRecord(r as Record<string, unknown>, res, out, ctx);
      }
    }
  }
}

function resourceInfo(resource: unknown): ResourceInfo {
  let service = '';
  let serviceVersion = '';
  let environment = '';
  const attrs =
    typeof resource === 'object' && resource !== null
      ? (resource as { attributes?: unknown }).attributes
      : null;
  if (Array.isArray(attrs)) {
    for (const kv of attrs) {
      if (typeof kv !== 'object' || kv === null) continue;
      const { key, value } = kv as { key?: unknown; value?: unknown };
      if (typeof value !== 'object' || value === null) continue;
      if (key === RESOURCE_ATTR.serviceName) service = stringValue(value as JsonAnyValue) ?? '';
      else if (key === RESOURCE_ATTR.serviceVersion)
        serviceVersion = stringValue(value as JsonAnyValue) ?? '';
      else if (key === RESOURCE_ATTR.deploymentEnvironmentName)
        environment = stringValue(value as JsonAnyValue) ?? '';
    }
  }
  return { service: service || UNKNOWN_SERVICE, serviceVersion, environment };
}

/** Reads the record's attributes into the shared draft; false (and a rejection) when they are not a list. */
function gatherAttributes(attrs: unknown, out: DecodeOutcome): boolean {
  draft.reset();
  if (attrs === undefined) return true;
  if (!Array.isArray(attrs)) {
    out.rejected.push({ reason: 'bad_type', detail: 'attributes is not an array' });
    return false;
  }
  for (const kv of attrs) draft.addAttribute(kv);
  return true;
}

function dedupKeyOf(traceId: unknown, spanId: unknown, ctx: LineContext): string {
  const usageId = draft.usageId;
  if (usageId !== '') return usageId;
  const t = normalizeId(traceId, 16);
  const s = normalizeId(spanId, 8);
  if (t !== '' && s !== '') return `${t}:${s}`;
  // No id at all: the same line delivered twice yields the same key; two lines never collide.
  if (ctx.hash === '') ctx.hash = lineHash(ctx.line);
  return `line:${ctx.hash}:${ctx.index}`;
}

const decodeLogRecord: RecordDecoder = (r, res, out, ctx) => {
  if (gatherAttributes(r.attributes, out)) finishLogRecord(r as unknown as ScannedLogFields, res, out, ctx);
};

/** A log record whose attributes are in the draft: counted, ignored or rejected. */
function finishLogRecord(r: ScannedLogFields, res: ResourceInfo, out: DecodeOutcome, ctx: LineContext): void {
  const isUsageEvent = r.eventName === USAGE_EVENT_NAME;
  const operation = canonicalOperation(draft.operation);
  // Other emitters' usage logs: an inference operation or a usage id, together with usage or an error.
  // Per-message events (gen_ai.user.message, gen_ai.choice) carry no usage: not calls.
  const counts =
    !draft.isAggregateOperation() &&
    (isUsageEvent ||
      ((draft.usageId !== '' || INFERENCE_OPERATIONS.has(operation)) &&
        (draft.hasCount || draft.errorType !== '')));
  if (!counts) {
    out.ignored++;
    return;
  }
  const key = dedupKeyOf(r.traceId, r.spanId, ctx);
  // Another emitter's event inside a sampled span repeats that span, which was recorded (OpenLIT's event
  // leaves out cached tokens): the span is the call's record, whichever file is read first. An event
  // outside a sampled span is the only record. This SDK's events carry a usage id (the span's key too).
  if (
    draft.usageId === '' &&
    ctx.scopeName !== SDK_SCOPE_NAME &&
    isSampled(r.flags) &&
    !key.startsWith('line:')
  ) {
    out.ignored++;
    return;
  }
  let ts = nanosToMs(r.timeUnixNano);
  if (ts === 0) ts = nanosToMs(r.observedTimeUnixNano);
  const rec = draft.finish('log', key, ts, res, operation, draft.errorType, Number.NaN);
  if ('reason' in rec) out.rejected.push(rec);
  else out.records.push(rec);
}

/** W3C trace flags (OTLP `flags`, low byte) with the sampled bit set. */
function isSampled(flags: unknown): boolean {
  return typeof flags === 'number' && (flags & 1) === 1;
}

/** A span with no parent (OTLP/JSON: absent, empty or all-zero `parentSpanId`). */
function isRootSpan(s: Record<string, unknown>): boolean {
  const p = s.parentSpanId;
  return p === undefined || p === null || p === '' || (typeof p === 'string' && /^0+$/.test(p));
}

const decodeSpan: RecordDecoder = (s, res, out, ctx) => {
  if (!gatherAttributes(s.attributes, out)) return;
  let operation = canonicalOperation(draft.operation);
  if (operation === '') {
    const kind = draft.openInferenceSpanKind;
    if (kind === 'LLM') operation = 'chat';
    else if (kind === 'EMBEDDING') operation = 'embeddings';
    else if (draft.llmRequestType !== '') operation = LLM_REQUEST_TYPES.get(draft.llmRequestType) ?? '';
    else if (s.name === OPENLLMETRY_RESPONSES_SPAN && ctx.scopeName.startsWith(OPENLLMETRY_OPENAI_SCOPE))
      operation = 'chat';
    else if (ctx.scopeName === AWS_SDK_SCOPE)
      operation = awsSdkInvokeModelOperation(s.name, draft.requestModel);
    else operation = vercelOperation(draft.vercelOperationId);
  }
  // Only inference spans are calls: agent, workflow, step, tool and chain spans (and the Vercel AI SDK's
  // outer spans) sum or wrap their children, so counting them would count twice. Logfire's `log` and
  // `pending_span` records are a log line and an early copy of a span, not calls.
  const logfireType = draft.logfireSpanType;
  if (!INFERENCE_OPERATIONS.has(operation) || (logfireType !== '' && logfireType !== 'span')) {
    out.ignored++;
    return;
  }
  const status = s.status as { code?: unknown } | undefined;
  const code = typeof status === 'object' && status !== null ? status.code : undefined;
  const failed = code === STATUS_CODE_ERROR || code === 'STATUS_CODE_ERROR';
  // The Vercel AI SDK 7 opens `embeddings <model>` twice: an operation span without usage around the
  // call's own span. It is the one with a child in the same export (or, failing that, the root). Only its
  // tracer's: another emitter's embeddings span without usage (OpenInference's) is the call.
  if (
    operation === 'embeddings' &&
    !draft.hasUsage &&
    draft.usageId === '' &&
    ctx.parents !== null &&
    (ctx.parents.has(normalizeId(s.spanId, 8)) || isRootSpan(s))
  ) {
    out.ignored++;
    return;
  }
  if (draft.usageId === '' && mayWrapInferenceSpan(ctx)) {
    if (ctx.inferenceParents === null) ctx.inferenceParents = inferenceParentIds(ctx.resourceSpans);
    if (ctx.inferenceParents.has(normalizeId(s.spanId, 8))) {
      out.ignored++;
      return;
    }
  }
  if (draft.usageId === '' && (isMarkedBySdk(s) || isInsideSdkSpan(s, ctx))) {
    out.ignored++;
    return;
  }
  const errorType = draft.errorType !== '' ? draft.errorType : failed ? OTHER_ERROR_TYPE : '';
  const end = nanosToMs(s.endTimeUnixNano);
  const start = nanosToMs(s.startTimeUnixNano);
  const span =
    end > 0 && start > 0
      ? end - start + subMsFraction(s.endTimeUnixNano) - subMsFraction(s.startTimeUnixNano)
      : -1;
  const duration = span >= 0 ? span : Number.NaN;
  const key = dedupKeyOf(s.traceId, s.spanId, ctx);
  const rec = draft.finish('span', key, end, res, operation, errorType, duration);
  if ('reason' in rec) out.rejected.push(rec);
  else out.records.push(rec);
};
