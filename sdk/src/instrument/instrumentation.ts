import {
  InstrumentationBase,
  type InstrumentationConfig,
  InstrumentationNodeModuleDefinition,
} from '@opentelemetry/instrumentation';
import { BudgetGuard, type BudgetOptions } from '../budget/budgetGuard.js';
import { SDK_SCOPE_NAME } from '../contract.js';
import type { PriceOverride } from '../pricing/index.js';
import { createUsagePricer } from '../record/price.js';
import { type Env, isTrue } from '../telemetry/options.js';
import { activeRuntime, setActiveRuntime, type TelemetryRuntime } from '../telemetry/runtime.js';
import { StatsKeeper, type TelemetryStats } from '../telemetry/stats.js';
import { SDK_VERSION } from '../version.js';
import { ANTHROPIC_MESSAGES } from './anthropic.js';
import { BEDROCK_SEND } from './bedrock.js';
import { GOOGLE_GENAI_METHODS } from './google.js';
import { OPENAI_METHODS } from './openai.js';
import {
  type AnyMethod,
  type MethodInstrumentation,
  originalOf,
  setWrapperOn,
  spendlineWrapper,
  wrapMethod,
} from './patchMethod.js';

/** Options of {@link SpendlineInstrumentation}. */
export interface SpendlineInstrumentationConfig extends InstrumentationConfig {
  /** Capture prompt and completion text into the record. Off unless this or `SPENDLINE_CAPTURE_CONTENT=true`. */
  captureContent?: boolean;
  /** Custom or negotiated prices: a list, or the path of an overrides file. */
  priceOverrides?: PriceOverride[] | string;
  /** Receives the SDK's (rate-limited) warnings. Default: `console.warn`. */
  onWarning?: (message: string) => void;
  /** Enforce the sidecar's budgets before each call (also from `SPENDLINE_BUDGET_URL`). */
  budgets?: BudgetOptions;
  /** @internal startTelemetry shares its counters with the instrumentation it starts. */
  statsKeeper?: StatsKeeper;
  /** @internal Environment to read instead of `process.env` (tests). */
  env?: Env;
  /** @internal Runs once, before the first record takes the tracer or logger (`register` starts its pipeline then). */
  beforeFirstRecord?: () => void;
}

type Obj = Record<string, unknown>;
type Patch = { target: Obj; name: string; how: MethodInstrumentation };

function proto(cls: unknown): Obj | undefined {
  const p = typeof cls === 'function' ? (cls as { prototype?: unknown }).prototype : undefined;
  return typeof p === 'object' && p !== null ? (p as Obj) : undefined;
}

/** The class of a Stainless client module (`openai`, `@anthropic-ai/sdk`), CommonJS or ES module. */
function clientClass(exports: unknown, name: string): Obj | undefined {
  const e = exports as Obj | undefined;
  const cls = e?.[name] ?? e?.default;
  return typeof cls === 'function' ? (cls as unknown as Obj) : undefined;
}

function openAIPatches(exports: unknown): Patch[] {
  const OpenAI = clientClass(exports, 'OpenAI');
  const chat = OpenAI?.Chat as Obj | undefined;
  const out: Patch[] = [];
  const add = (cls: unknown, how: MethodInstrumentation): void => {
    const target = proto(cls);
    if (target) out.push({ target, name: 'create', how });
  };
  add(chat?.Completions, OPENAI_METHODS.chatCompletions);
  add(OpenAI?.Responses, OPENAI_METHODS.responses);
  add(OpenAI?.Embeddings, OPENAI_METHODS.embeddings);
  return out;
}

function googleGenAIPatches(exports: unknown): Patch[] {
  const target = proto((exports as Obj | undefined)?.Models);
  if (!target) return [];
  return Object.entries(GOOGLE_GENAI_METHODS).map(([name, how]) => ({ target, name, how }));
}

function bedrockPatches(exports: unknown): Patch[] {
  const target = proto((exports as Obj | undefined)?.BedrockRuntimeClient);
  return target ? [{ target, name: 'send', how: BEDROCK_SEND }] : [];
}

function anthropicPatches(exports: unknown): Patch[] {
  const target = proto(clientClass(exports, 'Anthropic')?.Messages);
  return target ? [{ target, name: 'create', how: ANTHROPIC_MESSAGES }] : [];
}

/**
 * An OpenTelemetry instrumentation: records every `openai`, `@anthropic-ai/sdk`, `@google/genai` and
 * `@aws-sdk/client-bedrock-runtime` call made in
 * the process, with no wrapping, by patching the client classes when their module is loaded
 * (CommonJS through require-in-the-middle, ES modules through import-in-the-middle). Use it in
 * `new NodeSDK({ instrumentations: [new SpendlineInstrumentation()] })`: records are emitted
 * through the tracer and logger providers the SDK registers, so they go out through the service's
 * own exporters, in the service's traces.
 */
export class SpendlineInstrumentation extends InstrumentationBase<SpendlineInstrumentationConfig> {
  // `declare`: the base constructor calls enable() before class fields would be initialised.
  declare private rt: TelemetryRuntime | undefined;

  constructor(config: SpendlineInstrumentationConfig = {}) {
    super(SDK_SCOPE_NAME, SDK_VERSION, config);
  }

  protected init(): InstrumentationNodeModuleDefinition[] {
    const def = (name: string, versions: string[], patches: (exports: unknown) => Patch[]) =>
      new InstrumentationNodeModuleDefinition(
        name,
        versions,
        (exports) => {
          for (const p of patches(exports)) this.#wrap(p);
          return exports;
        },
        (exports) => {
          for (const p of patches(exports)) this.#unwrap(p);
        },
      );
    return [
      def('openai', ['>=5.0.0 <8'], openAIPatches),
      def('@anthropic-ai/sdk', ['>=0.50.0 <2'], anthropicPatches),
      def('@google/genai', ['>=1.0.0 <4'], googleGenAIPatches),
      def('@aws-sdk/client-bedrock-runtime', ['>=3.0.0 <4'], bedrockPatches),
    ];
  }

  /**
   * Wraps the method in place without OpenTelemetry's `_wrap`, which first unwraps (removes) any
   * shimmer-marked wrapper: with another instrumentation of the same client (OpenLLMetry,
   * OpenInference, `@opentelemetry/instrumentation-openai`), whichever patched last would silently
   * turn the other off. Ours goes on top of theirs, and theirs on top of ours (our wrapper carries no
   * shimmer mark); both record, and the sidecar counts the call once (our span is the parent or the
   * child of theirs: docs/emitters.md).
   */
  #wrap(p: Patch): void {
    const current = p.target[p.name];
    if (typeof current !== 'function') return;
    const ours = spendlineWrapper(current);
    if (ours !== undefined) {
      // Already ours (another instance, a second module copy, or this one re-enabled): one record per call.
      setWrapperOn(ours, true);
      return;
    }
    const descriptor = Object.getOwnPropertyDescriptor(p.target, p.name);
    Object.defineProperty(p.target, p.name, {
      value: wrapMethod(current as AnyMethod, p.how),
      writable: true,
      configurable: true,
      enumerable: descriptor?.enumerable ?? false,
    });
  }

  /** Restores the method when our wrapper is outermost; under another one's, turns ours off. */
  #unwrap(p: Patch): void {
    const current = p.target[p.name];
    const ours = spendlineWrapper(current);
    if (ours === undefined) return;
    if (current === ours && Object.hasOwn(p.target, p.name)) {
      Object.defineProperty(p.target, p.name, {
        value: originalOf(ours),
        writable: true,
        configurable: true,
        enumerable: Object.getOwnPropertyDescriptor(p.target, p.name)?.enumerable ?? false,
      });
    } else setWrapperOn(ours, false);
  }

  /** What instrumented calls emit through: this instrumentation's tracer and logger. */
  get runtime(): TelemetryRuntime {
    if (this.rt) return this.rt;
    const config = this.getConfig();
    const onWarning = config.onWarning ?? ((m: string) => console.warn(m));
    const stats = config.statsKeeper ?? new StatsKeeper(onWarning, 60_000);
    // Getters: NodeSDK hands the instrumentation its providers after constructing it.
    let first = config.beforeFirstRecord;
    const get = {
      tracer: () => {
        if (first) get.ready();
        return this.tracer;
      },
      logger: () => {
        if (first) get.ready();
        return this.logger;
      },
      ready: () => {
        const f = first;
        first = undefined;
        try {
          f?.();
        } catch {
          stats.s.internalErrors++;
        }
      },
    };
    this.rt = {
      get tracer() {
        return get.tracer();
      },
      get logger() {
        return get.logger();
      },
      stats,
      captureContent:
        config.captureContent === true || isTrue((config.env ?? process.env).SPENDLINE_CAPTURE_CONTENT),
      price: createUsagePricer(config.priceOverrides, (m) => {
        stats.s.internalErrors++;
        onWarning(m);
      }),
      pending: new Set(),
      // Its providers are the service's own (its NodeSDK): records are exported as the service exports logs.
      marksPeerSpans: true,
      budget: BudgetGuard.from(config.budgets, config.env ?? process.env, stats),
    };
    return this.rt;
  }

  /** A copy of the SDK's own counters (records emitted, rejected inputs, internal errors). */
  stats(): TelemetryStats {
    return this.runtime.stats.snapshot();
  }

  /** Waits for records still being finished (tokenizer estimates). */
  async forceFlush(): Promise<void> {
    const rt = this.runtime;
    while (rt.pending.size > 0) await Promise.all([...rt.pending]);
  }

  /** A new tracer provider: spans are started with its tracer (no longer straight into spendline's queue). */
  override setTracerProvider(tracerProvider: Parameters<InstrumentationBase['setTracerProvider']>[0]): void {
    super.setTracerProvider(tracerProvider);
    if (this.rt) this.rt.directSpans = undefined;
  }

  /** A new logger provider: records go through its loggers (no longer straight to spendline's queue). */
  override setLoggerProvider(loggerProvider: Parameters<InstrumentationBase['setLoggerProvider']>[0]): void {
    super.setLoggerProvider(loggerProvider);
    if (this.rt) this.rt.directRecords = undefined;
  }

  override enable(): void {
    super.enable();
    setActiveRuntime(this.runtime);
  }

  override disable(): void {
    super.disable();
    if (this.rt && activeRuntime() === this.rt) setActiveRuntime(undefined);
  }
}
