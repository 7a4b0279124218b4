import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { formatSseEvent, streamSse } from './sse.js';

describe('formatSseEvent', () => {
  it('writes id, event and one JSON data line, newlines in strings escaped', () => {
    expect(formatSseEvent({ event: 'token', data: { text: 'a\nb' }, id: '7' })).toBe(
      'id: 7\nevent: token\ndata: {"text":"a\\nb"}\n\n',
    );
    expect(formatSseEvent({ data: 1 })).toBe('data: 1\n\n');
    expect(formatSseEvent({ event: 'x\ny', data: null })).toBe('event: xy\ndata: null\n\n');
  });
});

describe('streamSse', () => {
  const app = Fastify();
  afterEach(async () => {
    await app.close();
  });

  it('streams events as they come, sends a thrown error as an error event, and stops a source whose reader left', async () => {
    const state = { produced: 0, aborted: false };
    app.get('/count', (_req, reply) =>
      streamSse(reply, async function* () {
        yield { event: 'n', data: 1 };
        await new Promise((r) => setTimeout(r, 1));
        yield { event: 'n', data: 2 };
        throw Object.assign(new Error('the model ran out of memory'), { code: 'MODEL_STATE' });
      }),
    );
    app.get('/endless', (_req, reply) =>
      streamSse(reply, async function* (signal) {
        signal.addEventListener('abort', () => (state.aborted = true));
        while (!signal.aborted) {
          state.produced++;
          yield { event: 'tick', data: state.produced };
          await new Promise((r) => setTimeout(r, 5));
        }
      }),
    );
    const base = await app.listen({ host: '127.0.0.1', port: 0 });

    const text = await (await fetch(`${base}/count`)).text();
    expect(text).toBe(
      'event: n\ndata: 1\n\nevent: n\ndata: 2\n\n' +
        'event: error\ndata: {"code":"MODEL_STATE","message":"the model ran out of memory"}\n\n',
    );

    const abort = new AbortController();
    const res = await fetch(`${base}/endless`, { signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    await new Promise((r) => setTimeout(r, 100));
    expect(state.aborted).toBe(true);
    const after = state.produced;
    await new Promise((r) => setTimeout(r, 50));
    expect(state.produced).toBe(after);
  });
});
