// The CommonJS side of app.mjs (require-in-the-middle rather than import-in-the-middle): one call per
// client at its previous major, resolved from this folder. Prints one JSON line, then flushes.
// env: FAKE_URL, GEMINI_URL, RECEIVER_URL (see app.mjs).
const { existsSync, readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');
const OpenAI = require('openai');
const Anthropic = require('@anthropic-ai/sdk');
const { GoogleGenAI } = require('@google/genai');

function resolvedVersion(name) {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).version;
    if (dirname(dir) === dir) return undefined;
  }
}

async function main() {
  const fake = process.env.FAKE_URL;
  const messages = [{ role: 'user', content: 'hi' }];
  const seen = {};
  const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${fake}/v1`, maxRetries: 0 });
  seen.chat = (
    await openai.chat.completions.create({ model: 'gpt-4.1', messages })
  ).choices[0].message.content;
  const anthropic = new Anthropic({ apiKey: 'sk-ant', baseURL: fake, maxRetries: 0 });
  let text = '';
  for await (const e of await anthropic.messages.create({
    model: 'claude-sonnet-4-5',
    max_tokens: 64,
    messages,
    stream: true,
  }))
    if (e.type === 'content_block_delta') text += e.delta.text ?? '';
  seen.anthropicStream = text;
  const gemini = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: process.env.GEMINI_URL } });
  seen.gemini = (await gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })).text;
  const names = ['openai', '@anthropic-ai/sdk', '@google/genai'];
  const versions = Object.fromEntries(names.map((n) => [n, resolvedVersion(n)]));
  console.log(JSON.stringify({ versions, seen }));
  await globalThis.__serviceSdk.shutdown();
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
