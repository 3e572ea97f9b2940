import { type TokenCounts, USAGE_TYPES, type UsageType } from '@spendline/sdk/contract';
import { decimalNumber } from './anyValue.js';
import { lineHash } from './lineHash.js';
import { isBlank, withoutLeadingNoise } from './lineText.js';
import { serviceTypeOf, usdToNanoOrNull } from './recordValues.js';
import {
  type DecodeOutcome,
  MAX_TIMESTAMP_MS,
  MAX_TOKENS_PER_RECORD,
  type Rejection,
  UNKNOWN_SERVICE,
} from './usageRecord.js';

/**
 * Plain JSONL usage logs (one JSON object per line, written by scripts and agents that do not speak
 * OTLP). Tolerant: the first present of each field's alternates wins; README.md lists them.
 */

type Obj = Record<string, unknown>;

function first(o: Obj, keys: readonly string[]): unknown {
  for (const k of keys) {
    const v = o[k];
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}

function text(o: Obj, keys: readonly string[]): string {
  const v = first(o, keys);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}

/** Epoch numbers in s, ms, µs or ns (by magnitude) or an ISO-8601 string, to ms; NaN when unreadable. */
export function parseTimestampMs(v: unknown): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) return Number.NaN;
    if (v < 1e11) return Math.round(v * 1000);
    if (v < 1e14) return Math.round(v);
    if (v < 1e17) return Math.floor(v / 1e3);
    return Math.floor(v / 1e6);
  }
  if (typeof v === 'string' && v !== '') {
    if (/^\d+(\.\d+)?$/.test(v)) return parseTimestampMs(Number(v));
    const ms = Date.parse(v);
    return ms > 0 ? ms : Number.NaN;
  }
  return Number.NaN;
}

const TS_KEYS = ['ts', 'timestamp', 'time', 'created_at', 'date'] as const;
const PROMPT_KEYS = ['prompt_tokens', 'input_tokens'] as const;
const COMPLETION_KEYS = ['completion_tokens', 'output_tokens'] as const;
const CACHE_READ_KEYS = ['cache_read_input_tokens', 'cache_read_tokens', 'cached_tokens'] as const;
const CACHE_WRITE_KEYS = [
  'cache_creation_input_tokens',
  'cache_write_input_tokens',
  'cache_write_tokens',
] as const;
const REASONING_KEYS = ['reasoning_tokens', 'reasoning_output_tokens'] as const;
const TOTAL_KEYS = ['total_tokens', 'tokens'] as const;
const COST_KEYS = ['cost_usd', 'cost'] as const;
const ID_KEYS = ['id', 'usage_id', 'request_id'] as const;

const USAGE_TYPE_SET: ReadonlySet<string> = new Set(USAGE_TYPES);
const ANY_COUNT_KEYS = [
  ...CACHE_READ_KEYS,
  ...CACHE_WRITE_KEYS,
  ...REASONING_KEYS,
  'ocr_pages',
  'pages',
  'embedding_inputs',
] as const;

/** Some count field is present (even 0): the line reports usage. */
function hasAnyCount(usage: Obj, top: Obj): boolean {
  return first(usage, ANY_COUNT_KEYS) !== undefined || first(top, ANY_COUNT_KEYS) !== undefined;
}

/** A count field: absent -> 0; otherwise a non-negative integer within bounds, or the rejection. */
function countField(usage: Obj, top: Obj, keys: readonly string[], out: { bad: Rejection | null }): number {
  const v = first(usage, keys) ?? first(top, keys);
  if (v === undefined) return 0;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? decimalNumber(v, false) : Number.NaN;
  const name = keys[0] ?? '';
  if (out.bad !== null) return 0;
  if (Number.isNaN(n)) out.bad = { reason: 'bad_type', detail: `${name}=${JSON.stringify(v)}` };
  else if (n < 0) out.bad = { reason: 'negative_tokens', detail: `${name}=${n}` };
  else if (n > MAX_TOKENS_PER_RECORD) out.bad = { reason: 'absurd_tokens', detail: `${name}=${n}` };
  else if (!Number.isInteger(n)) out.bad = { reason: 'fractional_tokens', detail: `${name}=${n}` };
  else return n;
  return 0;
}

function optionalNumber(o: Obj, keys: readonly string[]): number | null {
  const v = first(o, keys);
  const n = typeof v === 'number' ? v : typeof v === 'string' ? decimalNumber(v, false) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/**
 * A JSONL file's source name, the `source` of its records that name none: the file name without its
 * directory, rotation suffix (`.1`, `.2026-01-02`) and extension (`/var/log/agents/researcher.jsonl.1`
 * → `researcher`).
 */
export function sourceNameOfPath(path: string): string {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const rotation = /(\.\d[\d-]*)+$/;
  const name = base
    .replace(rotation, '')
    .replace(/\.(jsonl|ndjson|json|log|txt)$/i, '')
    .replace(rotation, '');
  return name === '' ? base : name;
}

/**
 * Decodes one plain JSONL usage line into at most one record. Never throws. `fileSource` is the
 * source name of the line's file (`sourceNameOfPath`), used when the record names none.
 */
export function decodeUsageJsonlLine(raw: string, fileSource = ''): DecodeOutcome {
  const out: DecodeOutcome = { records: [], rejected: [], ignored: 0 };
  const line = withoutLeadingNoise(raw);
  if (isBlank(line)) return out;
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (e) {
    out.rejected.push({ reason: 'bad_json', detail: (e as Error).message.slice(0, 200) });
    return out;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    out.rejected.push({ reason: 'bad_type', detail: 'line is not a JSON object' });
    return out;
  }
  const top = doc as Obj;
  const usageRaw = top.usage ?? top.token_usage;
  if (
    usageRaw !== undefined &&
    usageRaw !== null &&
    (typeof usageRaw !== 'object' || Array.isArray(usageRaw))
  ) {
    out.rejected.push({ reason: 'bad_type', detail: 'usage (token_usage) is not an object' });
    return out;
  }
  const usage = (usageRaw ?? {}) as Obj;
  const err = { bad: null as Rejection | null };
  // Tokens in the semantic-convention sense: prompt/input tokens include cached ones.
  const tokens: TokenCounts = {
    inputTokens: countField(usage, top, PROMPT_KEYS, err),
    outputTokens: countField(usage, top, COMPLETION_KEYS, err),
    cacheReadInputTokens: countField(usage, top, CACHE_READ_KEYS, err),
    cacheCreationInputTokens: countField(usage, top, CACHE_WRITE_KEYS, err),
    reasoningOutputTokens: countField(usage, top, REASONING_KEYS, err),
  };
  const ocrPages = countField(usage, top, ['ocr_pages', 'pages'], err);
  const embeddingInputs = countField(usage, top, ['embedding_inputs'], err);
  const hasSplit =
    first(usage, PROMPT_KEYS) !== undefined ||
    first(top, PROMPT_KEYS) !== undefined ||
    first(usage, COMPLETION_KEYS) !== undefined ||
    first(top, COMPLETION_KEYS) !== undefined;
  // Only a total: counted as input (its split is unknown, so its price is a lower bound), labelled so.
  const totalOnly = !hasSplit && (first(usage, TOTAL_KEYS) ?? first(top, TOTAL_KEYS)) !== undefined;
  if (totalOnly) tokens.inputTokens = countField(usage, top, TOTAL_KEYS, err);
  if (err.bad !== null) {
    out.rejected.push(err.bad);
    return out;
  }
  const reject = (r: Rejection): DecodeOutcome => {
    out.rejected.push(r);
    return out;
  };
  if (tokens.cacheReadInputTokens + tokens.cacheCreationInputTokens > tokens.inputTokens) {
    return reject({ reason: 'inconsistent_tokens', detail: 'cache tokens exceed prompt tokens' });
  }
  if (tokens.reasoningOutputTokens > tokens.outputTokens) {
    return reject({ reason: 'inconsistent_tokens', detail: 'reasoning tokens exceed completion tokens' });
  }
  const requestModel =
    text(top, ['model', 'request_model', 'model_name']) || text(usage, ['model', 'model_name']);
  const responseModel = text(top, ['response_model']);
  if (requestModel === '' && responseModel === '')
    return reject({ reason: 'missing_model', detail: 'no model' });
  const provider = text(top, ['provider', 'provider_name', 'system', 'vendor']);
  if (provider === '') return reject({ reason: 'missing_provider', detail: 'no provider' });
  const tsRaw = first(top, TS_KEYS);
  const timestampMs = parseTimestampMs(tsRaw);
  if (!(timestampMs > 0 && timestampMs <= MAX_TIMESTAMP_MS))
    return reject({ reason: 'bad_timestamp', detail: JSON.stringify(tsRaw ?? null) });
  const usageTypeRaw = text(top, ['usage_type']) || text(usage, ['usage_type']);
  if (usageTypeRaw !== '' && !USAGE_TYPE_SET.has(usageTypeRaw)) {
    return reject({ reason: 'bad_type', detail: `usage_type=${usageTypeRaw}` });
  }
  const estimatedFlag = first(top, ['estimated']) ?? first(usage, ['estimated']);
  if (estimatedFlag !== undefined && typeof estimatedFlag !== 'boolean')
    return reject({ reason: 'bad_type', detail: `estimated=${JSON.stringify(estimatedFlag)}` });
  const hasUsage = hasSplit || totalOnly || ocrPages > 0 || embeddingInputs > 0 || hasAnyCount(usage, top);
  // Declared type first; then total-only, `estimated: true`, no usage at all, else exact.
  const usageType: UsageType =
    usageTypeRaw !== ''
      ? (usageTypeRaw as UsageType)
      : totalOnly
        ? 'total_only'
        : estimatedFlag === true
          ? 'estimated'
          : hasUsage
            ? 'exact'
            : 'unknown';
  let emitterCostNanoUsd: number | null = null;
  const cost = first(usage, COST_KEYS) ?? first(top, COST_KEYS);
  if (cost !== undefined) {
    emitterCostNanoUsd = typeof cost === 'number' || typeof cost === 'string' ? usdToNanoOrNull(cost) : null;
    if (emitterCostNanoUsd === null)
      return reject({ reason: 'bad_type', detail: `cost=${JSON.stringify(cost)}` });
  }
  const operation = text(top, ['operation', 'operation_name']) || 'chat';
  let errorType = text(top, ['error_type', 'error']);
  if (errorType === '' && top.status === 'error') errorType = '_OTHER';
  const id = text(top, ID_KEYS);
  out.records.push({
    dedupKey: id !== '' ? `jsonl:${id}` : `jsonl:${lineHash(line)}`,
    source: 'jsonl',
    timestampMs,
    provider,
    requestModel,
    responseModel,
    operation,
    serviceType: serviceTypeOf(text(top, ['service_type']), operation),
    service: text(top, ['service', 'service_name']) || UNKNOWN_SERVICE,
    serviceVersion: text(top, ['service_version']),
    environment: text(top, ['environment', 'env']),
    status: errorType === '' ? 'ok' : 'error',
    errorType,
    usageType,
    tokens,
    ocrPages,
    embeddingInputs,
    emitterCostNanoUsd,
    durationMs: optionalNumber(top, ['duration_ms', 'latency_ms']),
    ttftMs: optionalNumber(top, ['ttft_ms']),
    userId: text(top, ['user_id', 'user']),
    sessionId: text(top, ['session_id']),
    feature: text(top, ['feature']),
    taskId: text(top, ['task_id', 'task']),
    tenantId: text(top, ['tenant_id', 'tenant']),
    agentName: text(top, ['agent', 'agent_name']),
    executionPath: text(top, ['execution_path']),
    conversationId: text(top, ['conversation_id', 'run_id']),
    sourceName: text(top, ['source', 'source_name']) || fileSource,
  });
  return out;
}
