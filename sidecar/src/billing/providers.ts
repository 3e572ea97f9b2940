/** Maps export-specific service names to semconv `gen_ai.provider.name` values; undefined = not AI spend. */

export function gcpProviderOf(serviceDescription: unknown): string | undefined {
  if (typeof serviceDescription !== 'string') return undefined;
  const s = serviceDescription.trim().toLowerCase();
  if (s === 'vertex ai') return 'gcp.vertex_ai';
  if (s === 'gemini api' || s === 'generative language api') return 'gcp.gemini';
  return undefined;
}

/** CUR 2.0: third-party Bedrock models may carry a Marketplace product code, so the family decides. */
export function isBedrockLine(productFamily: string | undefined, productCode: string | undefined): boolean {
  return productFamily?.trim() === 'Amazon Bedrock' || productCode?.trim() === 'AmazonBedrock';
}

/** Azure cost details: Azure OpenAI meters (MeterCategory/SubCategory naming varies by agreement). */
export function isAzureOpenAiMeter(category: string | undefined, subCategory: string | undefined): boolean {
  return /openai/i.test(subCategory ?? '') || /openai/i.test(category ?? '');
}
