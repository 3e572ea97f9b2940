// Test-only service for sdk/test/registerBesideHostSetup.test.ts, run from this folder so that it
// resolves `openai` 6 (the official `@opentelemetry/instrumentation-openai` patches `openai` < 7).
// GET /chat: one non-streaming and one streaming OpenAI chat call (real client, fake provider);
// GET /stop: closes the server, and the process ends when idle (its telemetry flushes on beforeExit).
// env: FAKE_URL. Prints `listening <port>`.
import { createServer } from 'node:http';
import OpenAI from 'openai';

const openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${process.env.FAKE_URL}/v1`, maxRetries: 0 });
const messages = [{ role: 'user', content: 'hi' }];
const server = createServer(async (req, res) => {
  try {
    if (req.url === '/chat') {
      const reply = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      res.end(JSON.stringify({ reply: reply.choices[0].message.content, streamed: text }));
      return;
    }
    if (req.url === '/stop') {
      res.end('bye');
      server.close();
      return;
    }
    res.statusCode = 404;
    res.end();
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err));
  }
});
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
