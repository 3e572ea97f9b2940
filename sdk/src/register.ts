/**
 * Zero-code start: `node --import @spendline/sdk/register app.js` (ES module and CommonJS apps).
 * Registers the import-in-the-middle loader hook (so `import OpenAI from 'openai'` is patched on
 * load) and the client patches now, and starts the pipeline from the environment (`OTLP_ENDPOINT`,
 * `OTEL_*`, `SPENDLINE_*`) with the first record: an OpenTelemetry setup the service makes itself
 * at start-up keeps its globals, and spendline's spans join it (see startTelemetryOnFirstRecord).
 * Records are flushed when the process is about to exit, or on SIGTERM / SIGINT.
 */
import { register } from 'node:module';
import { startTelemetryOnFirstRecord } from './telemetry/startTelemetry.js';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const telemetry = startTelemetryOnFirstRecord();

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => {
  stopping ??= telemetry.shutdown();
  return stopping;
};
// beforeExit fires when the event loop is empty; the flush's own I/O keeps the process alive until it is done.
process.once('beforeExit', () => {
  void stop();
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    // With another handler the app decides when to exit; alone, exit as the signal would have.
    const alone = process.listenerCount(signal) === 0;
    void stop().finally(() => {
      if (alone) process.kill(process.pid, signal);
    });
  });
}
