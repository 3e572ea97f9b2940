import { findProvider, type Provider } from '@pydantic/genai-prices';

/**
 * `gen_ai.provider.name` values (OpenTelemetry semconv) mapped to genai-prices provider ids. Needed
 * because genai-prices' own fuzzy provider match would, e.g., send `azure.ai.openai` to `openai`.
 */
export const SEMCONV_PROVIDER_TO_CATALOG: Readonly<Record<string, string>> = {
  openai: 'openai',
  anthropic: 'anthropic',
  'gcp.gemini': 'google',
  'gcp.vertex_ai': 'google',
  'gcp.gen_ai': 'google',
  'aws.bedrock': 'aws',
  'azure.ai.openai': 'azure',
  'azure.ai.inference': 'azure',
  mistral_ai: 'mistral',
  cohere: 'cohere',
  groq: 'groq',
  deepseek: 'deepseek',
  x_ai: 'x-ai',
  perplexity: 'perplexity',
  moonshot_ai: 'moonshotai',
};

/** The genai-prices provider for a semconv or genai-prices provider name, if the catalog has one. */
export function findCatalogProvider(name: string): Provider | undefined {
  const key = name.trim().toLowerCase();
  if (key === '') return undefined;
  const mapped = SEMCONV_PROVIDER_TO_CATALOG[key];
  return findProvider({ providerId: mapped ?? key });
}

/** Stable key for a provider: the catalog id when the catalog knows it, else the lower-cased name. */
export function providerKey(name: string): string {
  return findCatalogProvider(name)?.id ?? name.trim().toLowerCase();
}
