export { decodeOtlpJsonLine } from './otlpLine.js';
export { decodeUsageJsonlLine, sourceNameOfPath } from './usageJsonl.js';
export {
  type DecodeOutcome,
  MAX_TOKENS_PER_RECORD,
  REJECT_REASONS,
  type Rejection,
  type RejectReason,
  UNKNOWN_SERVICE,
  type UsageRecord,
} from './usageRecord.js';
