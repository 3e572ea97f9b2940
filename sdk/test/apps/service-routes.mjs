// Routes shared by the ES-module and CommonJS test services.
// GET /chat: one non-streaming OpenAI chat call and one streaming Anthropic call.
// GET /stop: flush (the service's NodeSDK when it has one, else the `register` shutdown) and exit.
export async function handle(req, res, { openai, anthropic, server }) {
  try {
    if (req.url === '/chat') {
      const reply = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      const stream = await anthropic.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      let text = '';
      for await (const e of stream) if (e.type === 'content_block_delta') text += e.delta.text ?? '';
      res.end(JSON.stringify({ openai: reply.choices[0].message.content, anthropic: text }));
      return;
    }
    if (req.url === '/stop') {
      res.end('bye');
      server.close();
      if (globalThis.__serviceSdk) {
        await globalThis.__serviceSdk.shutdown();
        process.exit(0);
      }
      // Under `--import @spendline/sdk/register` the process exits when idle; register flushes on beforeExit.
      return;
    }
    res.statusCode = 404;
    res.end();
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err));
  }
}
