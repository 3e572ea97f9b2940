import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import {
  instrumentAnthropic,
  instrumentOpenAI,
  startTelemetry,
  type TelemetryHandle,
  type TelemetryOptions,
} from '../../src/index.js';
import { type FakeModelBehaviour, type FakeProvider, startFakeProvider } from '../../src/testing/index.js';
import { type CapturedLog, type CapturedSpan, type OtlpReceiver, startOtlpReceiver } from './otlpReceiver.js';

/** A running SDK exporting into a capture receiver, plus instrumented real clients on a fake provider. */
export interface Harness {
  receiver: OtlpReceiver;
  fake: FakeProvider;
  telemetry: TelemetryHandle;
  openai: OpenAI;
  anthropic: Anthropic;
  warnings: string[];
  /** Flushes and returns what the receiver got. */
  collect(): Promise<{ logs: CapturedLog[]; spans: CapturedSpan[] }>;
  close(): Promise<void>;
}

export async function startHarness(
  options: { models?: Record<string, FakeModelBehaviour>; telemetry?: TelemetryOptions } = {},
): Promise<Harness> {
  const receiver = await startOtlpReceiver();
  const fake = await startFakeProvider({ models: options.models ?? {} });
  const warnings: string[] = [];
  const telemetry = startTelemetry({
    serviceName: 'harness-service',
    env: { OTLP_ENDPOINT: receiver.url },
    scheduledDelayMillis: 50,
    exportTimeoutMillis: 2000,
    onWarning: (m) => warnings.push(m),
    ...options.telemetry,
  });
  const openai = instrumentOpenAI(
    new OpenAI({ apiKey: 'sk-test', baseURL: fake.openaiBaseURL, maxRetries: 0 }),
  );
  const anthropic = instrumentAnthropic(
    new Anthropic({ apiKey: 'sk-ant-test', baseURL: fake.anthropicBaseURL, maxRetries: 0 }),
  );
  return {
    receiver,
    fake,
    telemetry,
    openai,
    anthropic,
    warnings,
    collect: async () => {
      await telemetry.forceFlush();
      return { logs: receiver.logs(), spans: receiver.spans() };
    },
    close: async () => {
      await telemetry.shutdown();
      await Promise.all([receiver.close(), fake.close()]);
    },
  };
}
