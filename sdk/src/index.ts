export type { BudgetAnswer } from './budget/budgetAnswer.js';
export { BudgetExceededError, type BudgetState } from './budget/budgetExceededError.js';
export type { BudgetOptions } from './budget/budgetGuard.js';
export {
  currentUsageContext,
  type UsageContext,
  type UsageContextMiddleware,
  usageContextMiddleware,
  withUsageContext,
} from './context/usageContext.js';
export * from './contract.js';
export { instrumentAnthropic } from './instrument/anthropic.js';
export { instrumentBedrock } from './instrument/bedrock.js';
export { instrumentGoogleGenAI } from './instrument/google.js';
export {
  SpendlineInstrumentation,
  type SpendlineInstrumentationConfig,
} from './instrument/instrumentation.js';
export { instrumentOpenAI } from './instrument/openai.js';
export { spendlineMiddleware } from './instrument/vercelAI.js';
export * from './money.js';
export * from './pricing/index.js';
export {
  type CumulativeObservation,
  type CumulativeRegression,
  type CumulativeSnapshot,
  type CumulativeUsageTracker,
  type CumulativeUsageTrackerOptions,
  createCumulativeUsageTracker,
  snapshotFromAG2Summary,
} from './record/cumulativeUsage.js';
export {
  type EmbeddingUsageInput,
  type LLMUsageInput,
  type OCRUsageInput,
  type RecordResult,
  recordEmbeddingUsage,
  recordLLMUsage,
  recordOCRUsage,
} from './record/manualUsage.js';
export type { TokenInput } from './record/validate.js';
export { resolveEndpoints, type TelemetryOptions } from './telemetry/options.js';
export { startTelemetry, type TelemetryHandle } from './telemetry/startTelemetry.js';
export type { TelemetryStats } from './telemetry/stats.js';
export { UsageRecordProcessor, type UsageRecordProcessorOptions } from './telemetry/usageRecordProcessor.js';
