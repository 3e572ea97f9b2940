import type { RequestFeatures } from '../contract.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null ? (v as Obj) : undefined;
}

function features(
  tools: boolean,
  structuredOutput: boolean,
  searchGrounding: boolean,
): RequestFeatures | undefined {
  return tools || structuredOutput || searchGrounding
    ? { tools, structuredOutput, searchGrounding }
    : undefined;
}

const isSearchTool = (t: unknown): boolean => {
  const type = obj(t)?.type;
  return typeof type === 'string' && type.startsWith('web_search');
};

/** Splits a tool list into "offers the model tools" and "grounds on web search" (a built-in search tool). */
function toolKinds(tools: unknown): [tools: boolean, search: boolean] {
  if (!Array.isArray(tools) || tools.length === 0) return [false, false];
  let search = false;
  let other = false;
  for (const t of tools) {
    if (isSearchTool(t)) search = true;
    else other = true;
  }
  return [other, search];
}

const JSON_FORMATS = new Set(['json_schema', 'json_object']);

/** OpenAI chat completions: `tools` / `functions`, `response_format`, `web_search_options`. */
export function openAIChatFeatures(body: Obj): RequestFeatures | undefined {
  const [tools] = toolKinds(body.tools);
  const legacyFunctions = Array.isArray(body.functions) && body.functions.length > 0;
  return features(
    tools || legacyFunctions,
    JSON_FORMATS.has(obj(body.response_format)?.type as string),
    body.web_search_options !== undefined,
  );
}

/** OpenAI Responses: `tools` (web_search* is grounding), `text.format`. */
export function openAIResponsesFeatures(body: Obj): RequestFeatures | undefined {
  const [tools, search] = toolKinds(body.tools);
  return features(tools, JSON_FORMATS.has(obj(obj(body.text)?.format)?.type as string), search);
}

/** Anthropic Messages: `tools` (web_search_* server tools are grounding), `output_format`. */
export function anthropicFeatures(body: Obj): RequestFeatures | undefined {
  const [tools, search] = toolKinds(body.tools);
  return features(tools, obj(body.output_format)?.type === 'json_schema', search);
}

/** Google Gen AI: `config.tools` (functionDeclarations; googleSearch / googleSearchRetrieval), response schema. */
export function geminiFeatures(config: Obj | undefined): RequestFeatures | undefined {
  if (!config) return undefined;
  let tools = false;
  let search = false;
  if (Array.isArray(config.tools)) {
    for (const t of config.tools) {
      const tool = obj(t);
      if (!tool) continue;
      if (tool.googleSearch !== undefined || tool.googleSearchRetrieval !== undefined) search = true;
      if (tool.functionDeclarations !== undefined || tool.codeExecution !== undefined) tools = true;
    }
  }
  const structured =
    config.responseSchema !== undefined ||
    config.responseJsonSchema !== undefined ||
    config.responseMimeType === 'application/json';
  return features(tools, structured, search);
}

/** Bedrock Converse: `toolConfig.tools`. */
export function converseFeatures(input: Obj): RequestFeatures | undefined {
  const tools = obj(input.toolConfig)?.tools;
  return features(Array.isArray(tools) && tools.length > 0, false, false);
}
