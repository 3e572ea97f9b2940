/**
 * Generates collector file-export lines (compact OTLP/JSON, one ExportLogsServiceRequest or
 * ExportTraceServiceRequest per line, int64 as strings, lowercase hex ids) carrying usage records
 * exactly as @spendline/sdk emits them, with exact ground truth. Deterministic by seed.
 */
import { usdToNano } from '@spendline/sdk';
import {
  ATTR,
  partitionTokens,
  RESOURCE_ATTR,
  SDK_SCOPE_NAME,
  TOKEN_TYPES,
  type TokenCounts,
  type TokenType,
  USAGE_EVENT_NAME,
  type UsageType,
} from '@spendline/sdk/contract';

export interface ModelSpec {
  provider: string;
  model: string;
  /** Operation this model serves: 'chat' (default), 'embeddings' or 'ocr'. */
  operation?: 'chat' | 'embeddings' | 'ocr';
}

export interface GenerateOptions {
  /** Number of calls (each one usage record; in 'mixed' a call is written as a log AND a span). */
  records: number;
  /** Records (log records or inference spans) per line; the last line may hold fewer. */
  perLine: number;
  seed: number;
  /** A count (the first N of a built-in list, extended with synthetic unpriced models) or explicit models. */
  models?: number | readonly ModelSpec[];
  services?: number | readonly string[];
  features?: number | readonly string[];
  users?: number | readonly string[];
  /** Time of the first call (default 2026-01-01T00:00:00Z); calls are 250 ms apart plus jitter. */
  startMs?: number;
  /** 'logs' (default): usage events only; 'spans': SDK spans plus agent spans; 'mixed': both per call. */
  kind?: 'logs' | 'spans' | 'mixed';
  /** Interleave ordinary application-log lines (like the otel-demo fixture) after every 5th line. */
  withNoise?: boolean;
  /** Keep the per-call truth (`truth.calls`); off by default to bound memory in benchmarks. */
  withCalls?: boolean;
  /**
   * 'uniform' (default): every call picks model, service, feature and user independently (worst case
   * for rollups: almost every call is its own hourly row). 'correlated': as in a real fleet, each
   * feature belongs to one service and calls one of its three models (80/15/5 %), each user works in
   * two features, 'estimated' usage is a property of a model's integration, and a task is one user's
   * run within 15 minutes.
   */
  shape?: 'uniform' | 'correlated';
  /**
   * Give every call a `session.id`: one session per user per 10 minutes (a few calls each: many short
   * sessions), with a random-looking id as real session ids are. Draws nothing from the generator's
   * random sequence, so the rest of the output is the same with or without it.
   */
  withSessions?: boolean;
}

export interface GroupTruth {
  provider: string;
  model: string;
  service: string;
  requests: number;
  errors: number;
  /** Disjoint partition (sums to input + output) per usage type. */
  tokens: Record<UsageType, Record<TokenType, number>>;
  ocrPages: number;
  embeddingInputs: number;
  /** Sum of the records' own `spendline.cost.usd`, integer nano-USD. */
  emitterCostNanoUsd: number;
}

export interface CallTruth {
  usageId: string;
  provider: string;
  model: string;
  service: string;
  feature: string;
  userId: string;
  operation: string;
  usageType: UsageType;
  errorType: string;
  timestampMs: number;
  tokens: TokenCounts;
  emitterCostNanoUsd: number | null;
}

export interface GeneratedTruth {
  /** Distinct calls: what the sidecar must count after dedup. */
  calls: number;
  /** Usage records the decoder yields before dedup (2 per call in 'mixed'). */
  decodedRecords: number;
  /** Records the decoder reports as ignored (noise log records, agent spans). */
  ignored: number;
  /** Lines holding usage (log or span) vs noise lines. */
  usageLines: number;
  noiseLines: number;
  /** Keyed `${provider}|${model}|${service}`. */
  groups: Record<string, GroupTruth>;
  totals: { requests: number; errors: number; tokens: Record<TokenType, number>; emitterCostNanoUsd: number };
  callList?: CallTruth[];
}

export interface GeneratedLines {
  lines: string[];
  truth: GeneratedTruth;
}

/** Real models across providers (most priced in the catalog); extended with synthetic unpriced ones. */
export const BUILTIN_MODELS: readonly ModelSpec[] = [
  { provider: 'openai', model: 'gpt-4o' },
  { provider: 'openai', model: 'gpt-4o-mini' },
  { provider: 'anthropic', model: 'claude-3-5-sonnet-20241022' },
  { provider: 'openai', model: 'text-embedding-3-small', operation: 'embeddings' },
  { provider: 'anthropic', model: 'claude-3-5-haiku-20241022' },
  { provider: 'openai', model: 'o3-mini' },
  { provider: 'gcp.gemini', model: 'gemini-1.5-flash' },
  { provider: 'mistral_ai', model: 'mistral-ocr-latest', operation: 'ocr' },
  { provider: 'openai', model: 'gpt-4.1' },
  { provider: 'anthropic', model: 'claude-3-opus-20240229' },
  { provider: 'gcp.gemini', model: 'gemini-1.5-pro' },
  { provider: 'openai', model: 'text-embedding-3-large', operation: 'embeddings' },
  { provider: 'mistral_ai', model: 'mistral-large-latest' },
  { provider: 'groq', model: 'llama-3.1-8b-instant' },
  { provider: 'deepseek', model: 'deepseek-chat' },
  { provider: 'openai', model: 'gpt-4.1-mini' },
  { provider: 'cohere', model: 'command-r-plus' },
  { provider: 'x_ai', model: 'grok-2' },
];

const SDK_VERSION = '0.1.0';
const STEP_MS = 250;
const DEFAULT_START_MS = Date.UTC(2026, 0, 1);

function pickList(
  n: number | readonly string[] | undefined,
  fallback: number,
  prefix: string,
): readonly string[] {
  if (Array.isArray(n)) return n as readonly string[];
  const count = typeof n === 'number' ? n : fallback;
  return Array.from({ length: Math.max(1, count) }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);
}

function pickModels(m: GenerateOptions['models']): readonly ModelSpec[] {
  if (Array.isArray(m)) return m as readonly ModelSpec[];
  const count = typeof m === 'number' ? Math.max(1, m) : 8;
  const out: ModelSpec[] = BUILTIN_MODELS.slice(0, count);
  for (let i = out.length; i < count; i++)
    out.push({ provider: 'openai', model: `synthetic-model-${i + 1}` });
  return out;
}

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });
/** The JS SDK exports integral numbers as intValue, which the collector writes as a decimal string. */
const int = (key: string, v: number) => ({ key, value: { intValue: String(v) } });
const dbl = (key: string, v: number) => ({ key, value: { doubleValue: v } });

function nanos(ms: number, rng: Rng): string {
  return `${ms}${String(rng.int(1_000_000)).padStart(6, '0')}`;
}

interface Call {
  truth: CallTruth;
  serviceIndex: number;
  attributes: object[];
  startMs: number;
  endMs: number;
  traceId: string;
  spanId: string;
}

interface Choice {
  spec: ModelSpec;
  serviceIndex: number;
  feature: string;
  userId: string;
  usageType: UsageType;
  taskId: string;
}

function uniformChoice(rng: Rng, lists: Lists): Choice {
  const spec = rng.pick(lists.models);
  const serviceIndex = rng.int(lists.services.length);
  const feature = rng.pick(lists.features);
  const userId = rng.pick(lists.users);
  const usageType: UsageType = rng.int(10) === 0 ? 'estimated' : 'exact';
  return { spec, serviceIndex, feature, userId, usageType, taskId: '' };
}

function correlatedChoice(atMs: number, rng: Rng, lists: Lists): Choice {
  const u = rng.int(lists.users.length);
  const nf = lists.features.length;
  const f = rng.int(2) === 0 ? u % nf : (u * 7 + 3) % nf;
  const roll = rng.int(100);
  const mi = (f * 3 + (roll < 80 ? 0 : roll < 95 ? 1 : 2)) % lists.models.length;
  const spec = lists.models[mi] as ModelSpec;
  const usageType: UsageType = mi % 10 === 9 ? 'estimated' : 'exact';
  const taskId = rng.int(4) === 0 ? `task-${u}-${Math.floor(atMs / 900_000)}` : '';
  return {
    spec,
    serviceIndex: f % lists.services.length,
    feature: lists.features[f] as string,
    userId: lists.users[u] as string,
    usageType,
    taskId,
  };
}

/** A session id for a user's 10-minute window: a hash, so ids are spread like UUIDs. */
function sessionIdOf(userId: string, atMs: number): string {
  const text = `${userId}:${Math.floor(atMs / 600_000)}`;
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 + c, 0x5bd1e995) ^ (h2 >>> 13);
  }
  return `${(h1 >>> 0).toString(16).padStart(8, '0')}-${(h2 >>> 0).toString(16).padStart(8, '0')}`;
}

function makeCall(
  i: number,
  rng: Rng,
  o: Required<Pick<GenerateOptions, 'startMs' | 'shape' | 'withSessions'>>,
  lists: Lists,
): Call {
  const { spec, serviceIndex, feature, userId, usageType, taskId } =
    o.shape === 'correlated'
      ? correlatedChoice(o.startMs + i * STEP_MS, rng, lists)
      : uniformChoice(rng, lists);
  const service = lists.services[serviceIndex] ?? 'svc';
  const operation = spec.operation ?? 'chat';
  const errorType = rng.int(50) === 0 ? (rng.int(2) === 0 ? 'RateLimitError' : 'timeout') : '';
  const durationMs = 50 + rng.int(5000);
  const endMs = o.startMs + i * STEP_MS + rng.int(STEP_MS);
  const input = operation === 'ocr' ? 0 : 1 + rng.int(operation === 'embeddings' ? 2000 : 20_000);
  const output = operation === 'chat' ? rng.int(4000) : 0;
  const tokens: TokenCounts = {
    inputTokens: input,
    outputTokens: output,
    cacheReadInputTokens: operation === 'chat' && rng.int(3) === 0 ? rng.int(input + 1) : 0,
    cacheCreationInputTokens: 0,
    reasoningOutputTokens: 0,
  };
  if (operation === 'chat' && spec.provider === 'anthropic' && rng.int(4) === 0) {
    tokens.cacheCreationInputTokens = rng.int(input - tokens.cacheReadInputTokens + 1);
  }
  if (operation === 'chat' && spec.model.startsWith('o') && output > 0)
    tokens.reasoningOutputTokens = rng.int(output + 1);
  const usageId = rng.uuid();
  const a: object[] = [str(ATTR.userId, userId), str(ATTR.feature, feature)];
  if (o.withSessions) a.push(str(ATTR.sessionId, sessionIdOf(userId, o.startMs + i * STEP_MS)));
  if (o.shape === 'correlated') {
    if (taskId !== '') a.push(str(ATTR.taskId, taskId));
  } else if (rng.int(4) === 0) a.push(str(ATTR.taskId, `task-${rng.int(1000)}`));
  a.push(
    str(ATTR.operationName, operation),
    str(ATTR.providerName, spec.provider),
    str(ATTR.requestModel, spec.model),
  );
  // Failed calls carry no usage (the SDK emits none), so the truth counts a request with zero tokens.
  const hasUsage = errorType === '';
  if (hasUsage) a.push(str(ATTR.responseModel, spec.model));
  const t: TokenCounts = hasUsage
    ? tokens
    : {
        inputTokens: 0,
        outputTokens: 0,
        cacheReadInputTokens: 0,
        cacheCreationInputTokens: 0,
        reasoningOutputTokens: 0,
      };
  if (hasUsage && operation !== 'ocr') {
    a.push(int(ATTR.inputTokens, t.inputTokens), int(ATTR.outputTokens, t.outputTokens));
    if (t.cacheReadInputTokens > 0) a.push(int(ATTR.cacheReadInputTokens, t.cacheReadInputTokens));
    if (t.cacheCreationInputTokens > 0)
      a.push(int(ATTR.cacheCreationInputTokens, t.cacheCreationInputTokens));
    if (t.reasoningOutputTokens > 0) a.push(int(ATTR.reasoningOutputTokens, t.reasoningOutputTokens));
  }
  const ocrPages = hasUsage && operation === 'ocr' ? 1 + rng.int(40) : 0;
  const embeddingInputs = hasUsage && operation === 'embeddings' ? 1 + rng.int(64) : 0;
  if (ocrPages > 0) a.push(int(ATTR.ocrPages, ocrPages));
  if (embeddingInputs > 0) a.push(int(ATTR.embeddingInputs, embeddingInputs));
  a.push(str(ATTR.usageId, usageId), str(ATTR.usageType, usageType));
  a.push(
    str(ATTR.serviceType, operation === 'embeddings' ? 'embedding' : operation === 'ocr' ? 'ocr' : 'llm'),
  );
  a.push(int(ATTR.durationMs, durationMs));
  if (operation === 'chat' && rng.int(2) === 0) a.push(int(ATTR.ttftMs, 1 + rng.int(durationMs)));
  let emitterCostNanoUsd: number | null = null;
  if (errorType !== '') a.push(str(ATTR.errorType, errorType));
  else if (!spec.model.startsWith('synthetic-')) {
    // A double as the SDK writes it; the truth is its exact decimal value in nano-USD.
    const cost = (1 + rng.int(5_000_000)) / 1e9;
    const nano = usdToNano(cost);
    emitterCostNanoUsd = nano.ok ? nano.nano : null;
    a.push(dbl(ATTR.costUsd, cost));
  }
  return {
    truth: {
      usageId,
      provider: spec.provider,
      model: spec.model,
      service,
      feature,
      userId,
      operation,
      usageType,
      errorType,
      timestampMs: endMs,
      tokens: { ...t },
      emitterCostNanoUsd,
    },
    serviceIndex,
    attributes: a,
    startMs: endMs - durationMs,
    endMs,
    traceId: rng.hex(16),
    spanId: rng.hex(8),
  };
}

interface Lists {
  models: readonly ModelSpec[];
  services: readonly string[];
  features: readonly string[];
  users: readonly string[];
}

function resource(service: string, index: number) {
  return {
    attributes: [
      str(RESOURCE_ATTR.serviceName, service),
      str(RESOURCE_ATTR.serviceVersion, `1.${index}.0`),
      str(RESOURCE_ATTR.deploymentEnvironmentName, 'production'),
      str('telemetry.sdk.language', 'nodejs'),
      str('telemetry.sdk.name', 'opentelemetry'),
      str('telemetry.sdk.version', '2.2.0'),
      str('host.name', `${service}-7d9f8c6b5-x${index}`),
      int('process.pid', 1000 + index),
    ],
  };
}

/** Groups items by service index into one resource entry per service, as the collector's batcher does. */
function byService<T>(items: readonly { serviceIndex: number; item: T }[]): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const { serviceIndex, item } of items) {
    const list = m.get(serviceIndex);
    if (list) list.push(item);
    else m.set(serviceIndex, [item]);
  }
  return m;
}

const SCOPE = { name: SDK_SCOPE_NAME, version: SDK_VERSION };

function logsLine(calls: readonly Call[], lists: Lists, rng: Rng): string {
  const groups = byService(
    calls.map((c) => ({
      serviceIndex: c.serviceIndex,
      item: {
        timeUnixNano: nanos(c.endMs, rng),
        observedTimeUnixNano: nanos(c.endMs, rng),
        severityNumber: c.truth.errorType ? 13 : 9,
        eventName: USAGE_EVENT_NAME,
        attributes: c.attributes,
        flags: 1,
        traceId: c.traceId,
        spanId: c.spanId,
      },
    })),
  );
  const resourceLogs = [...groups].map(([si, logRecords]) => ({
    resource: resource(lists.services[si] ?? 'svc', si),
    scopeLogs: [{ scope: SCOPE, logRecords }],
  }));
  return JSON.stringify({ resourceLogs });
}

function spansLine(calls: readonly Call[], lists: Lists, rng: Rng, truth: GeneratedTruth): string {
  const items: { serviceIndex: number; item: object }[] = [];
  for (const c of calls) {
    const parentSpanId = rng.hex(8);
    const span: Record<string, unknown> = {
      traceId: c.traceId,
      spanId: c.spanId,
      parentSpanId,
      flags: 257,
      name: `${c.truth.operation} ${c.truth.model}`,
      kind: 3,
      startTimeUnixNano: nanos(c.startMs, rng),
      endTimeUnixNano: nanos(c.endMs, rng),
      attributes: c.attributes,
      status: c.truth.errorType ? { code: 2 } : {},
    };
    items.push({ serviceIndex: c.serviceIndex, item: span });
    if (rng.int(4) === 0) {
      // An agent span that sums its children: must be ignored, never counted.
      truth.ignored++;
      items.push({
        serviceIndex: c.serviceIndex,
        item: {
          traceId: c.traceId,
          spanId: parentSpanId,
          flags: 257,
          name: 'invoke_agent planner',
          kind: 1,
          startTimeUnixNano: nanos(c.startMs - 5, rng),
          endTimeUnixNano: nanos(c.endMs + 5, rng),
          attributes: [
            str(ATTR.operationName, 'invoke_agent'),
            str(ATTR.providerName, c.truth.provider),
            str(ATTR.requestModel, c.truth.model),
            str(ATTR.agentName, 'planner'),
            int(ATTR.inputTokens, c.truth.tokens.inputTokens),
            int(ATTR.outputTokens, c.truth.tokens.outputTokens),
          ],
          status: {},
        },
      });
    }
  }
  const resourceSpans = [...byService(items)].map(([si, spans]) => ({
    resource: resource(lists.services[si] ?? 'svc', si),
    scopeSpans: [{ scope: SCOPE, spans }],
  }));
  return JSON.stringify({ resourceSpans });
}

/** An ordinary application-log line shaped like the otel-demo fixture: no GenAI attribute at all. */
function noiseLine(rng: Rng, startMs: number, truth: GeneratedTruth): string {
  const n = 1 + rng.int(8);
  truth.ignored += n;
  truth.noiseLines++;
  const logRecords = Array.from({ length: n }, (_, i) => ({
    timeUnixNano: nanos(startMs + i, rng),
    observedTimeUnixNano: nanos(startMs + i, rng),
    severityNumber: 9,
    severityText: 'Information',
    body: { stringValue: 'GetCartAsync called with userId={userId}' },
    attributes: [str('userId', rng.uuid())],
    flags: 1,
    traceId: rng.hex(16),
    spanId: rng.hex(8),
  }));
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: [str('host.name', '587ae0d575ec'), str('service.name', 'cartservice')] },
        scopeLogs: [{ scope: { name: 'cartservice.cartstore.ValkeyCartStore' }, logRecords }],
      },
    ],
  });
}

function emptyPartition(): Record<TokenType, number> {
  return { input: 0, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 };
}

function addToTruth(truth: GeneratedTruth, c: CallTruth, ocrPages: number, embeddingInputs: number): void {
  const key = `${c.provider}|${c.model}|${c.service}`;
  let g = truth.groups[key];
  if (!g) {
    g = {
      provider: c.provider,
      model: c.model,
      service: c.service,
      requests: 0,
      errors: 0,
      tokens: {
        exact: emptyPartition(),
        estimated: emptyPartition(),
        total_only: emptyPartition(),
        unknown: emptyPartition(),
      },
      ocrPages: 0,
      embeddingInputs: 0,
      emitterCostNanoUsd: 0,
    };
    truth.groups[key] = g;
  }
  const p = partitionTokens(c.tokens);
  g.requests++;
  truth.totals.requests++;
  if (c.errorType) {
    g.errors++;
    truth.totals.errors++;
  }
  for (const tt of TOKEN_TYPES) {
    g.tokens[c.usageType][tt] += p[tt];
    truth.totals.tokens[tt] += p[tt];
  }
  g.ocrPages += ocrPages;
  g.embeddingInputs += embeddingInputs;
  g.emitterCostNanoUsd += c.emitterCostNanoUsd ?? 0;
  truth.totals.emitterCostNanoUsd += c.emitterCostNanoUsd ?? 0;
}

/** See the module comment. `truth` is exact: the decoder and the sidecar must reproduce it. */
export function generateUsageLines(options: GenerateOptions): GeneratedLines {
  const rng = createRng(options.seed);
  const kind = options.kind ?? 'logs';
  const perLine = Math.max(1, Math.floor(options.perLine));
  const startMs = options.startMs ?? DEFAULT_START_MS;
  const lists: Lists = {
    models: pickModels(options.models),
    services: pickList(options.services, 3, 'service'),
    features: pickList(options.features, 4, 'feature'),
    users: pickList(options.users, 10, 'user'),
  };
  const truth: GeneratedTruth = {
    calls: 0,
    decodedRecords: 0,
    ignored: 0,
    usageLines: 0,
    noiseLines: 0,
    groups: {},
    totals: { requests: 0, errors: 0, tokens: emptyPartition(), emitterCostNanoUsd: 0 },
  };
  if (options.withCalls) truth.callList = [];
  const lines: string[] = [];
  for (let first = 0; first < options.records; first += perLine) {
    const batch: Call[] = [];
    for (let i = first; i < Math.min(options.records, first + perLine); i++) {
      const c = makeCall(
        i,
        rng,
        { startMs, shape: options.shape ?? 'uniform', withSessions: options.withSessions ?? false },
        lists,
      );
      batch.push(c);
      truth.calls++;
      const pages = numberAttr(c.attributes, ATTR.ocrPages);
      const inputs = numberAttr(c.attributes, ATTR.embeddingInputs);
      addToTruth(truth, c.truth, pages, inputs);
      truth.callList?.push(c.truth);
    }
    if (kind !== 'spans') {
      lines.push(logsLine(batch, lists, rng));
      truth.usageLines++;
      truth.decodedRecords += batch.length;
    }
    if (kind !== 'logs') {
      lines.push(spansLine(batch, lists, rng, truth));
      truth.usageLines++;
      truth.decodedRecords += batch.length;
    }
    if (options.withNoise && (first / perLine) % 5 === 4)
      lines.push(noiseLine(rng, startMs + first * STEP_MS, truth));
  }
  if (options.withNoise && lines.length > 0) lines.splice(1, 0, noiseLine(rng, startMs, truth));
  return { lines, truth };
}

function numberAttr(attrs: readonly object[], key: string): number {
  for (const kv of attrs as { key: string; value: { intValue?: string } }[]) {
    if (kv.key === key) return Number(kv.value.intValue ?? 0);
  }
  return 0;
}

/** A small deterministic PRNG (mulberry32) for generated test data: same seed, same bytes. */
interface Rng {
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(list: readonly T[]): T;
  /** `bytes` random bytes as lowercase hex (never all zero). */
  hex(bytes: number): string;
  uuid(): string;
}

function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const hex = (bytes: number): string => {
    let out = '';
    for (let i = 0; i < bytes; i++) out += int(256).toString(16).padStart(2, '0');
    return /^0+$/.test(out) ? `${out.slice(0, -1)}1` : out;
  };
  return {
    int,
    pick<T>(list: readonly T[]): T {
      const v = list[int(list.length)];
      if (v === undefined) throw new Error('pick from an empty list');
      return v;
    },
    hex,
    uuid(): string {
      const h = hex(16);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
    },
  };
}
