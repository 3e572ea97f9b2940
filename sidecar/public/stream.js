// A client of GET /api/stream (Server-Sent Events) over fetch, so it can send the API token header
// (EventSource cannot). Reconnects with Last-Event-ID; `onReset` when the server says events were missed.

export function followStream({ url, headers, onUsage, onReset, onState }) {
  let lastId;
  let stopped = false;
  let controller;

  async function connect() {
    controller = new AbortController();
    const h = { ...headers() };
    if (lastId !== undefined) h['last-event-id'] = lastId;
    const res = await fetch(url, { headers: h, signal: controller.signal });
    if (!res.ok || res.body === null) throw new Error(`stream: HTTP ${res.status}`);
    onState('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let cut = buf.indexOf('\n\n');
      while (cut >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        cut = buf.indexOf('\n\n');
        let event = 'message';
        let id;
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (id !== undefined) lastId = id;
        if (data === '') continue;
        const payload = JSON.parse(data);
        if (event === 'usage') onUsage(payload);
        else if (event === 'reset') onReset(payload);
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await connect();
      } catch (err) {
        if (stopped) return;
        onState(err.message.includes('401') ? 'unauthorized' : 'reconnecting');
      }
      if (!stopped) {
        onState('reconnecting');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  })();

  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}
