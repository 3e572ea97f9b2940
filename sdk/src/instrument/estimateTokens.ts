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

/**
 * Texts up to this many characters, without a long run of non-space characters, are tokenized whole
 * (the tokenizer's own count). Beyond, the work is bounded: js-tiktoken's byte-pair merge is quadratic
 * in the length of a piece, and a piece is a run of letters, so 2,000 characters of Chinese or
 * Japanese (no spaces) took 11 s and 20,000 of base64 or repeated letters 86 s of the host's event loop.
 */
const WHOLE_LIMIT = 4096;
/** A run of non-space characters longer than a piece. */
const LONG_RUN = /\S{33,}/;
/** Characters per piece of a sampled estimate. */
const PIECE = 32;
/** Pieces tokenized per call at most (spread evenly over the text); the count is scaled to the whole. */
const MAX_PIECES = 24;

/**
 * The piece of `t` at `at`, moved to word boundaries where it can be (starting at a space, as the
 * tokenizer's pieces do, and ending before one): a word cut in two counts more tokens than it has.
 */
function wordAligned(t: string, at: number): string {
  let start = at;
  let end = Math.min(t.length, at + PIECE);
  if (start > 0 && !SPACE.test(t.charAt(start - 1))) {
    const ws = t.slice(start, end).search(SPACE);
    if (ws > 0) start += ws;
  }
  if (end < t.length && !SPACE.test(t.charAt(end))) {
    for (let i = end - 1; i > start; i--) {
      if (SPACE.test(t.charAt(i))) {
        end = i;
        break;
      }
    }
  }
  return t.slice(start, end);
}
const SPACE = /\s/;

/**
 * Token count of the texts under the model's tokenizer (an estimate for non-OpenAI models). Long
 * texts are estimated from a sample: at most {@link MAX_PIECES} pieces of {@link PIECE} characters,
 * spread over the text, scaled by its length, so the work per call is bounded whatever the input.
 */
export async function estimateTokens(model: string, texts: readonly string[]): Promise<number> {
  const enc = await encoder(encodingFor(model));
  let total = 0;
  let longRun = false;
  for (const t of texts) {
    if (!t) continue;
    total += t.length;
    if (!longRun && total <= WHOLE_LIMIT && LONG_RUN.test(t)) longRun = true;
  }
  if (total === 0) return 0;
  if (total <= WHOLE_LIMIT && !longRun) {
    let n = 0;
    for (const t of texts) if (t) n += enc.encode(t).length;
    return n;
  }
  const pieces = Math.ceil(total / PIECE) + texts.length;
  const stride = Math.max(1, Math.ceil(pieces / MAX_PIECES));
  let index = 0;
  let sampledChars = 0;
  let sampledTokens = 0;
  for (const t of texts) {
    if (!t) continue;
    for (let at = 0; at < t.length; at += PIECE, index++) {
      if (index % stride !== 0) continue;
      const piece = wordAligned(t, at);
      sampledChars += piece.length;
      sampledTokens += enc.encode(piece).length;
    }
  }
  return sampledChars >= total
    ? sampledTokens
    : Math.max(1, Math.round((sampledTokens * total) / sampledChars));
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
