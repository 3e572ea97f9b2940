// Calls every instrumented client at its previous major (installed under this folder, so Node
// resolves them here rather than the SDK's own dev dependencies), with SpendlineInstrumentation
// loaded by `--import` (sdk/test/apps/service-telemetry.mjs). Prints one JSON line: the versions it
// resolved and what the callers saw; then shuts the service's NodeSDK down (flushing the records).
// env: FAKE_URL (OpenAI and Anthropic fake), GEMINI_URL (Gemini fake), RECEIVER_URL (telemetry).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOpenAI } from '@ai-sdk/openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { spendlineMiddleware } from '@spendline/sdk';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import OpenAI from 'openai';

/** The version Node's resolution from this folder finds (the nearest node_modules holding it). */
function resolvedVersion(name) {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).version;
    if (dirname(dir) === dir) return undefined;
  }
}

const fake = process.env.FAKE_URL;
const seen = {};
const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${fake}/v1`, maxRetries: 0 });
const anthropic = new Anthropic({ apiKey: 'sk-ant', baseURL: fake, maxRetries: 0 });
const gemini = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: process.env.GEMINI_URL } });
const messages = [{ role: 'user', content: 'hi' }];

seen.chat = (await openai.chat.completions.create({ model: 'gpt-4.1', messages })).choices[0].message.content;
let text = '';
for await (const c of await openai.chat.completions.create({ model: 'gpt-4.1-mini', messages, stream: true }))
  text += c.choices[0]?.delta.content ?? '';
seen.chatStream = text;
text = '';
for await (const e of await openai.responses.create({ model: 'gpt-5-mini', input: 'hi', stream: true }))
  if (e.type === 'response.output_text.delta') text += e.delta;
seen.responsesStream = text;
// The client's helpers, built on create.
seen.parse = (
  await openai.chat.completions.parse({ model: 'gpt-4.1-mini', messages })
).choices[0].message.content;
// openai 6's finalResponse() has no output_text: the text of the output message.
seen.responsesHelper = (
  await openai.responses.stream({ model: 'gpt-5-mini', input: 'hi' }).finalResponse()
).output[0].content[0].text;
seen.embeddings = (
  await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] })
).data.length;
seen.failed = await openai.chat.completions
  .create({ model: 'gpt-4o-mini', messages }, { headers: { 'x-fake-error': '500' } })
  .then(
    () => 'no error',
    (e) => e.status,
  );

seen.anthropic = (
  await anthropic.messages.create({ model: 'claude-opus-4-5', max_tokens: 2048, messages })
).content[0].text;
text = '';
for await (const e of await anthropic.messages.create({
  model: 'claude-sonnet-4-5',
  max_tokens: 64,
  messages,
  stream: true,
}))
  if (e.type === 'content_block_delta') text += e.delta.text ?? '';
seen.anthropicStream = text;

seen.gemini = (await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })).text;
text = '';
for await (const c of await gemini.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'hi' }))
  text += c.text ?? '';
seen.geminiStream = text;

const model = wrapLanguageModel({
  model: createOpenAI({ baseURL: `${fake}/v1`, apiKey: 'sk-test' }).chat('o4-mini'),
  middleware: spendlineMiddleware(),
});
seen.aiGenerate = (await generateText({ model, prompt: 'hi' })).text;
text = '';
for await (const t of streamText({ model, prompt: 'hi' }).textStream) text += t;
seen.aiStream = text;

const names = ['openai', '@anthropic-ai/sdk', '@google/genai', 'ai', '@ai-sdk/openai'];
const versions = Object.fromEntries(names.map((n) => [n, resolvedVersion(n)]));
console.log(JSON.stringify({ versions, seen }));
await globalThis.__serviceSdk.shutdown();
