import { runDemo } from '../demo/traffic.js';
import { fail, parseCommandArgs, positiveInt } from '../report/commandSupport.js';

export const summary =
  'send demo LLM traffic (real openai/anthropic clients, built-in fake provider) to an OTLP endpoint';

const HELP = `usage: spendline demo [--endpoint URL] [--requests N] [--rate PER_SECOND] [--seed N] [--service NAME]

Generates traffic with @spendline/sdk and the real openai and @anthropic-ai/sdk clients against a
built-in loopback fake provider (no API key, no network): several OpenAI and Anthropic models,
streaming, embeddings, OCR jobs, 429/500 errors, five users, five features. Usage records go over
OTLP/HTTP to --endpoint (default: OTLP_ENDPOINT, else http://127.0.0.1:4318, where "spendline up"
listens).

  --endpoint URL     OTLP/HTTP base URL (the SDK appends /v1/logs and /v1/traces)
  --requests N       calls to make (default 60, at most 1000000)
  --rate N           calls per second (default 10; 0 = as fast as possible)
  --seed N           traffic seed; the same seed sends the same calls (default 1)
  --service NAME     service.name of the demo (default spendline-demo)`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      endpoint: { type: 'string' },
      requests: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      service: { type: 'string' },
    },
    HELP,
  );
  if (!parsed.ok) return parsed.exitCode;
  const { values } = parsed;
  const requests = positiveInt('requests', values.requests as string | undefined, 1_000_000);
  if (!requests.ok) return fail(requests.reason);
  const seed = positiveInt('seed', values.seed as string | undefined, 2 ** 31 - 1);
  if (!seed.ok) return fail(seed.reason);
  const rateText = (values.rate as string | undefined) ?? '10';
  if (!/^\d+(\.\d+)?$/.test(rateText))
    return fail(`--rate must be a number >= 0, got ${JSON.stringify(rateText)}`);
  const endpoint =
    (values.endpoint as string | undefined) ?? process.env.OTLP_ENDPOINT ?? 'http://127.0.0.1:4318';
  try {
    new URL(endpoint);
  } catch {
    return fail(`--endpoint must be a URL, got ${JSON.stringify(endpoint)}`);
  }
  process.stdout.write(`demo: sending ${requests.value ?? 60} calls to ${endpoint}\n`);
  const result = await runDemo({
    endpoint,
    requests: requests.value ?? 60,
    rate: Number(rateText),
    seed: seed.value ?? 1,
    serviceName: (values.service as string | undefined) ?? 'spendline-demo',
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const t = result.telemetry;
  process.stdout.write(
    `demo: ${result.calls} calls (${result.errors} failed on purpose, ${result.streamed} streamed, ` +
      `${result.embeddings} embeddings, ${result.ocrJobs} OCR jobs)\n` +
      `demo: telemetry ${JSON.stringify(t)}\n`,
  );
  return 0;
}
