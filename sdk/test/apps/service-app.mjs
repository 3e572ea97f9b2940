// An ES-module service: one HTTP route that calls OpenAI and Anthropic (real clients, fake provider).
// env: FAKE_URL. Prints `listening <port>`; GET /stop shuts the service's NodeSDK down and exits.
import { createServer } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { instrumentOpenAI } from '@spendline/sdk';
import OpenAI from 'openai';
import { handle } from './service-routes.mjs';

const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${process.env.FAKE_URL}/v1`, maxRetries: 0 });
// Instrumenting explicitly as well must not record a call twice.
instrumentOpenAI(openai);
const anthropic = new Anthropic({ apiKey: 'sk-ant', baseURL: process.env.FAKE_URL, maxRetries: 0 });
const server = createServer((req, res) => handle(req, res, { openai, anthropic, server }));
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
