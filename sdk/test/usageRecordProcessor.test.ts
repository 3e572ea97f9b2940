import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { USAGE_EVENT_NAME } from '../src/contract.js';
import { UsageRecordProcessor } from '../src/index.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlpReceiver.js';

let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
});

describe('UsageRecordProcessor (for a service’s own NodeSDK)', () => {
  it('sends the usage records, and only them, to spendline’s endpoint; counts what it exported', async () => {
    receiver = await startOtlpReceiver();
    const processor = new UsageRecordProcessor({
      env: { OTLP_ENDPOINT: receiver.url },
      scheduledDelayMillis: 60_000,
    });
    const provider = new LoggerProvider({ processors: [processor] });
    const logger = provider.getLogger('service');
    logger.emit({ eventName: USAGE_EVENT_NAME, attributes: { 'gen_ai.request.model': 'gpt-4o-mini' } });
    logger.emit({ body: 'GET /health 200' }); // the service's own log: not spendline's business
    logger.emit({ eventName: 'app.checkout', attributes: { 'user.id': 'u-1' } });
    await provider.forceFlush();
    expect(receiver.logs().map((l) => l.eventName)).toEqual([USAGE_EVENT_NAME]);
    expect(processor.stats()).toMatchObject({ logsExported: 1, logsDropped: 0, logsFailed: 0 });
    await provider.shutdown();
  });
});
