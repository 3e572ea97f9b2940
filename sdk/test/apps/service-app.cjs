// The CommonJS twin of service-app.mjs (require()d clients, patched by require-in-the-middle).
const { createServer } = require('node:http');
const OpenAI = require('openai');
const Anthropic = require('@anthropic-ai/sdk');

const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${process.env.FAKE_URL}/v1`, maxRetries: 0 });
const anthropic = new Anthropic({ apiKey: 'sk-ant', baseURL: process.env.FAKE_URL, maxRetries: 0 });
const server = createServer((req, res) =>
  import('./service-routes.mjs').then(({ handle }) => handle(req, res, { openai, anthropic, server })),
);
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
