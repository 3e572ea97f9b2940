// The mocked `openai` chat call every SDK bench script uses: an in-process `fetch` answering a chat
// completion (usage with cached and reasoning tokens) or its SSE stream, and the client options.
export const usage = {
  prompt_tokens: 1000,
  completion_tokens: 500,
  total_tokens: 1500,
  prompt_tokens_details: { cached_tokens: 200 },
  completion_tokens_details: { reasoning_tokens: 100 },
};
const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'ok', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage,
});
const chunk = (delta, finish, extra = {}) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: delta ? [{ index: 0, delta, logprobs: null, finish_reason: finish }] : [],
    ...extra,
  })}\n\n`;
const sse = new TextEncoder().encode(
  [
    chunk({ role: 'assistant', content: '' }, null),
    ...['Hello', ' from', ' the', ' bench', '.'].map((c) => chunk({ content: c }, null)),
    chunk({}, 'stop'),
    chunk(null, null, { usage }),
    'data: [DONE]\n\n',
  ].join(''),
);
const fakeFetch = async (_url, init) => {
  const streaming = typeof init?.body === 'string' && init.body.includes('"stream":true');
  return streaming
    ? new Response(sse, { status: 200, headers: { 'content-type': 'text/event-stream' } })
    : new Response(completion, { status: 200, headers: { 'content-type': 'application/json' } });
};
export const clientOptions = {
  apiKey: 'sk-bench',
  baseURL: 'http://fake.invalid/v1',
  fetch: fakeFetch,
  maxRetries: 0,
};

export const chatRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
export const streamRequest = { ...chatRequest, stream: true };

/** A loopback OTLP/HTTP sink that accepts and discards every export; `url` is its base URL. */
export async function startOtlpSink() {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}
