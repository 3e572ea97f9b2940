/**
 * `@spendline/sdk/core`: exact money and the pricing module, without the telemetry SDK (no
 * OpenTelemetry, no client wrappers). For processes that only price and count usage — the sidecar,
 * the report CLI — this keeps start-up time and memory small.
 */
export * from './configText.js';
export * from './money.js';
export * from './pricing/index.js';
