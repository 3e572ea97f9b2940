import type { Tiktoken } from 'js-tiktoken/lite';

type EncodingName = 'o200k_base' | 'cl100k_base';

const encoders = new Map<EncodingName, Promise<Tiktoken>>();

/** Newer OpenAI families use o200k_base; everything else (older GPT, other vendors) is approximated with cl100k_base. */
export function encodingFor(model: string): EncodingName {
  return /^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|chatgpt-4o|o\d)/.test(model) ? 'o200k_base' : 'cl100k_base';
}

/** Loads a tokenizer once, from the ranks shipped inside js-tiktoken (no network). */
function encoder(name: EncodingName): Promise<Tiktoken> {
  let e = encoders.get(name);
  if (!e) {
    e = (async () => {
      const { Tiktoken: Encoder } = await import('js-tiktoken/lite');
      const ranks =
        name === 'o200k_base'
          ? (await import('js-tiktoken/ranks/o200k_base')).default
          : (await import('js-tiktoken/ranks/cl100k_base')).default;
      return new Encoder(ranks);
    })();
    encoders.set(name, e);
  }
  return e;
}

/** Token count of the texts under the model's tokenizer (an estimate for non-OpenAI models). */
export async function estimateTokens(model: string, texts: readonly string[]): Promise<number> {
  const enc = await encoder(encodingFor(model));
  let n = 0;
  for (const t of texts) if (t) n += enc.encode(t).length;
  return n;
}

/** Collects the text of chat-style messages (`string` content or `{type:'text', text}` parts), plus `system`/`instructions`/`input`. */
export function promptTexts(body: unknown): string[] {
  const out: string[] = [];
  if (typeof body !== 'object' || body === null) return out;
  const b = body as Record<string, unknown>;
  const pushContent = (c: unknown): void => {
    if (typeof c === 'string') out.push(c);
    else if (Array.isArray(c)) {
      for (const part of c) {
        if (typeof part === 'string') out.push(part);
        else if (typeof part === 'object' && part !== null) {
          const p = part as Record<string, unknown>;
          if (typeof p.text === 'string') out.push(p.text);
          else if (p.content !== undefined) pushContent(p.content);
        }
      }
    }
  };
  pushContent(b.system);
  pushContent(b.instructions);
  if (Array.isArray(b.messages))
    for (const m of b.messages) pushContent((m as { content?: unknown })?.content);
  pushContent(b.input);
  return out;
}
