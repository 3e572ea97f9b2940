import { connect } from 'node:net';
import { runDemo } from '../demo/traffic.js';
import { fail, parseCommandArgs, positiveInt } from '../report/commandSupport.js';

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
  --service NAME     service.name of the demo (default spendline-demo)

Exits 1 at once when nothing accepts connections at the endpoint, and after the run when any
telemetry could not be exported.`;

/**
 * The demo's last words: where its calls show and what to expect there. The demo knows only the
 * OTLP endpoint, so it names the status page's default address and the flag that changes it.
 */
export function whereToLook(calls: number, failed: number, serviceName: string): string {
  return (
    `demo: done. Open the status page, http://127.0.0.1:9464/ (the address \`spendline up\` printed, if ` +
    `started with --listen): within seconds its Calls tile counts these ${calls} calls (${failed} failed on ` +
    `purpose, under service ${serviceName}) with their spend and tokens. Or: npx spendline report --by model`
  );
}

/** Whether something accepts TCP connections at the URL's host and port (bounded by `timeoutMs`). */
async function isListening(url: URL, timeoutMs: number): Promise<boolean> {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

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
  let endpointUrl: URL;
  try {
    endpointUrl = new URL(endpoint);
  } catch {
    return fail(`--endpoint must be a URL, got ${JSON.stringify(endpoint)}`);
  }
  if (!(await isListening(endpointUrl, 3000)))
    return fail(`nothing is listening at ${endpoint}; is \`npm start\` running?`, 1);
  const serviceName = (values.service as string | undefined) ?? 'spendline-demo';
  process.stdout.write(`demo: sending ${requests.value ?? 60} calls to ${endpoint}\n`);
  const result = await runDemo({
    endpoint,
    requests: requests.value ?? 60,
    rate: Number(rateText),
    seed: seed.value ?? 1,
    serviceName,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const t = result.telemetry;
  process.stdout.write(
    `demo: ${result.calls} calls (${result.errors} failed on purpose, ${result.streamed} streamed, ` +
      `${result.embeddings} embeddings, ${result.ocrJobs} OCR jobs)\n` +
      `demo: telemetry ${JSON.stringify(t)}\n`,
  );
  const lost = t.logsFailed + t.spansFailed + t.logsDropped + t.spansDropped;
  if (lost > 0) {
    process.stderr.write(
      `spendline: ${lost} log records/spans could not be exported to ${endpoint}; is \`npm start\` still running, and is this its OTLP/HTTP address (the demo does not speak gRPC)?\n`,
    );
    return 1;
  }
  process.stdout.write(`${whereToLook(result.calls, result.errors, serviceName)}\n`);
  return 0;
}
