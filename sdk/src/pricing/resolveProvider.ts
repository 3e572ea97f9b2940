/**
 * The provider that bills a call, from what an emitter reports: its provider name (`gen_ai.provider.name`,
 * `gen_ai.system`, the Vercel AI SDK's `openai.chat`, OpenInference's `llm.provider`, …) and, for
 * OpenAI-compatible clients, the endpoint it called (`server.address` / `server.port`, or a client's
 * `baseURL`). The answer is a semconv-style `gen_ai.provider.name` value (`openai`, `azure.ai.openai`,
 * `groq`, …): the name the ledger, the metrics, billing imports and `SEMCONV_PROVIDER_TO_CATALOG` use.
 *
 * One table for the whole project: the sidecar's decoder and the SDK's client wrappers both call
 * `resolveProviderName`, so a call is priced and reconciled as the same provider whichever path it took.
 */

/** Reported provider names (lower case) → canonical provider. */
const NAME_TO_PROVIDER: ReadonlyMap<string, string> = new Map([
  // OpenAI, and the Vercel AI SDK's per-API ids.
  ['openai', 'openai'],
  ['openai.chat', 'openai'],
  ['openai.responses', 'openai'],
  ['openai.completion', 'openai'],
  ['openai.embedding', 'openai'],
  ['openai.image', 'openai'],
  ['openai.transcription', 'openai'],
  ['openai.speech', 'openai'],
  // Azure: Azure OpenAI and the Azure AI Inference (model catalog) endpoints.
  ['azure.ai.openai', 'azure.ai.openai'],
  ['az.ai.openai', 'azure.ai.openai'],
  ['azure_openai', 'azure.ai.openai'],
  ['azure', 'azure.ai.openai'],
  ['azure-openai', 'azure.ai.openai'], // Spring AI (AiProvider.AZURE_OPENAI)
  ['azure.ai.inference', 'azure.ai.inference'],
  ['az.ai.inference', 'azure.ai.inference'],
  // AWS, Google.
  ['aws.bedrock', 'aws.bedrock'],
  ['amazon-bedrock', 'aws.bedrock'],
  ['bedrock', 'aws.bedrock'],
  ['aws_bedrock', 'aws.bedrock'],
  ['bedrock_converse', 'aws.bedrock'], // Spring AI (AiProvider.BEDROCK_CONVERSE)
  ['aws', 'aws.bedrock'], // OpenLLMetry <= 0.54: an OpenAI client on a Bedrock endpoint ("AWS")
  ['gcp.vertex_ai', 'gcp.vertex_ai'],
  ['vertex_ai', 'gcp.vertex_ai'],
  ['vertexai', 'gcp.vertex_ai'],
  ['vertex', 'gcp.vertex_ai'],
  ['google.vertex', 'gcp.vertex_ai'],
  ['gcp.gemini', 'gcp.gemini'],
  ['gemini', 'gcp.gemini'],
  ['google', 'gcp.gemini'],
  ['google.generative-ai', 'gcp.gemini'],
  ['google_genai', 'gcp.gemini'],
  ['gcp.gen_ai', 'gcp.gen_ai'],
  // Others with their own bill.
  ['anthropic', 'anthropic'],
  ['mistral_ai', 'mistral_ai'],
  ['mistral', 'mistral_ai'],
  ['mistralai', 'mistral_ai'],
  ['cohere', 'cohere'],
  ['groq', 'groq'],
  ['deepseek', 'deepseek'],
  ['x_ai', 'x_ai'],
  ['xai', 'x_ai'],
  ['together', 'together'],
  ['togetherai', 'together'],
  ['together_ai', 'together'],
  ['openrouter', 'openrouter'],
  ['perplexity', 'perplexity'],
  ['fireworks', 'fireworks'],
  ['cerebras', 'cerebras'],
  ['moonshot_ai', 'moonshot_ai'],
  ['moonshotai', 'moonshot_ai'],
  ['ollama', 'ollama'],
  ['vllm', 'vllm'],
]);

/** Hosts of OpenAI-compatible endpoints (exact, or a suffix when it starts with a dot or a dash) → provider. */
const HOST_TO_PROVIDER: readonly (readonly [string, string])[] = [
  ['api.openai.com', 'openai'],
  ['.openai.azure.com', 'azure.ai.openai'],
  ['.cognitiveservices.azure.com', 'azure.ai.openai'],
  ['.services.ai.azure.com', 'azure.ai.inference'],
  ['.models.ai.azure.com', 'azure.ai.inference'],
  ['models.inference.ai.azure.com', 'azure.ai.inference'],
  ['api.groq.com', 'groq'],
  ['api.deepseek.com', 'deepseek'],
  ['api.together.xyz', 'together'],
  ['api.together.ai', 'together'],
  ['api.mistral.ai', 'mistral_ai'],
  ['openrouter.ai', 'openrouter'],
  ['api.openrouter.ai', 'openrouter'],
  ['api.x.ai', 'x_ai'],
  ['api.fireworks.ai', 'fireworks'],
  ['api.cerebras.ai', 'cerebras'],
  ['api.perplexity.ai', 'perplexity'],
  ['api.moonshot.ai', 'moonshot_ai'],
  ['api.moonshot.cn', 'moonshot_ai'],
  ['generativelanguage.googleapis.com', 'gcp.gemini'],
  // Vertex AI: global `aiplatform.googleapis.com`, regional `us-central1-aiplatform.googleapis.com`.
  ['aiplatform.googleapis.com', 'gcp.vertex_ai'],
  ['-aiplatform.googleapis.com', 'gcp.vertex_ai'],
  ['.aiplatform.googleapis.com', 'gcp.vertex_ai'],
  ['api.anthropic.com', 'anthropic'],
];

/** Default ports of local OpenAI-compatible servers on a loopback host. */
const LOCAL_PORT_TO_PROVIDER: ReadonlyMap<number, string> = new Map([
  [11434, 'ollama'],
  [8000, 'vllm'],
]);

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0']);

/** Providers whose name says only "an OpenAI-style API": the endpoint, when known, names the real one. */
const OPENAI_COMPATIBLE: ReadonlySet<string> = new Set(['openai', '']);

/** A reported name to its canonical provider: the table, else its `<provider>.<api>` prefix, else itself (lower case). */
function providerOfName(reported: string): string {
  const name = reported.trim().toLowerCase();
  const direct = NAME_TO_PROVIDER.get(name);
  if (direct !== undefined) return direct;
  // The Vercel AI SDK's `<provider>.<api>` ids (`groq.chat`, `google.vertex.chat`, `anthropic.messages`).
  let dot = name.lastIndexOf('.');
  while (dot > 0) {
    const prefix = NAME_TO_PROVIDER.get(name.slice(0, dot));
    if (prefix !== undefined) return prefix;
    dot = name.lastIndexOf('.', dot - 1);
  }
  return name;
}

/** Host and port of a `server.address` (a bare host) or a URL such as a client's `baseURL`. */
function endpointOf(address: string, port: number | undefined): { host: string; port: number | undefined } {
  const a = address.trim().toLowerCase();
  if (a.includes('://')) {
    try {
      const u = new URL(a);
      const p = u.port !== '' ? Number(u.port) : undefined;
      return { host: u.hostname, port: p ?? port };
    } catch {
      return { host: '', port };
    }
  }
  return { host: a, port };
}

function providerOfHost(host: string, port: number | undefined): string | undefined {
  if (host === '') return undefined;
  if (LOOPBACK_HOSTS.has(host)) return port === undefined ? undefined : LOCAL_PORT_TO_PROVIDER.get(port);
  for (const [pattern, provider] of HOST_TO_PROVIDER) {
    const suffix = pattern.charCodeAt(0) === 46 /* . */ || pattern.charCodeAt(0) === 45; /* - */
    if (suffix ? host.endsWith(pattern) : host === pattern) return provider;
  }
  return undefined;
}

const cache = new Map<string, string>();
const CACHE_LIMIT = 4096;

/**
 * The canonical provider of a call (a `gen_ai.provider.name`-style value; unknown names come back
 * trimmed and lower-cased). `serverAddress` is the `server.address` attribute or a client's `baseURL`;
 * it decides only when the reported name is OpenAI (or absent): an OpenAI client pointed at Groq is billed
 * by Groq. Returns '' when there is neither a name nor a known endpoint.
 *
 * ```ts
 * resolveProviderName('openai.chat')                               // 'openai'
 * resolveProviderName('openai', 'my-res.openai.azure.com')         // 'azure.ai.openai'
 * resolveProviderName('openai', 'https://api.groq.com/openai/v1')  // 'groq'
 * resolveProviderName('openai', 'localhost', 11434)                // 'ollama'
 * ```
 */
export function resolveProviderName(reported: string, serverAddress = '', serverPort?: number): string {
  // Consecutive records mostly repeat the last call's provider: compare before hashing a key.
  if (reported === last.reported && serverAddress === last.address && serverPort === last.port)
    return last.provider;
  const key = serverAddress === '' ? reported : `${reported}\u0001${serverAddress}\u0001${serverPort ?? ''}`;
  let provider = cache.get(key);
  if (provider === undefined) {
    provider = resolveUncached(reported, serverAddress, serverPort);
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, provider);
  }
  last.reported = reported;
  last.address = serverAddress;
  last.port = serverPort;
  last.provider = provider;
  return provider;
}

const last: { reported: string; address: string; port: number | undefined; provider: string } = {
  reported: '',
  address: '',
  port: undefined,
  provider: '',
};

function resolveUncached(reported: string, serverAddress: string, serverPort: number | undefined): string {
  const provider = providerOfName(reported);
  if (OPENAI_COMPATIBLE.has(provider) && serverAddress !== '') {
    const ep = endpointOf(serverAddress, serverPort);
    return providerOfHost(ep.host, ep.port) ?? provider;
  }
  return provider;
}
