import type { FastifyReply } from 'fastify';

/** One server-sent event: `data` is sent as JSON; `event` names its type for `EventSource.addEventListener`. */
export interface SseEvent {
  event?: string;
  data: unknown;
  id?: string;
}

/** Formats one event in the `text/event-stream` wire format (each data line prefixed, blank line after). */
export function formatSseEvent({ event, data, id }: SseEvent): string {
  let out = '';
  if (id !== undefined) out += `id: ${id.replace(/[\r\n]/g, '')}\n`;
  if (event !== undefined) out += `event: ${event.replace(/[\r\n]/g, '')}\n`;
  // JSON.stringify escapes newlines inside strings, so one data line always suffices.
  out += `data: ${JSON.stringify(data)}\n\n`;
  return out;
}

/** Options of `streamSse`. */
export interface StreamSseOptions {
  /** Milliseconds between comment lines that keep proxies from closing an idle stream; 0 turns them off. */
  heartbeatMs?: number;
}

/**
 * Streams events from `source` to the client as `text/event-stream`, then ends the response. The source gets
 * an `AbortSignal` that fires when the client goes away, so a token generator stops spending compute on a
 * reader who left; an error thrown by the source is sent as an `error` event carrying its code and message.
 * The source may yield an array of events, written in one chunk.
 *
 * @example
 * app.post('/v1/generate/stream', (req, reply) =>
 *   streamSse(reply, (signal) => generator.stream(req.body, signal)));
 */
export async function streamSse(
  reply: FastifyReply,
  source: (signal: AbortSignal) => AsyncIterable<SseEvent | readonly SseEvent[]>,
  { heartbeatMs = 15_000 }: StreamSseOptions = {},
): Promise<void> {
  const abort = new AbortController();
  const raw = reply.raw;
  const onClose = () => {
    if (!raw.writableFinished) abort.abort();
  };
  raw.on('close', onClose);
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const heartbeat =
    heartbeatMs > 0 ? setInterval(() => raw.write(': keep-alive\n\n'), heartbeatMs) : undefined;
  try {
    for await (const event of source(abort.signal)) {
      if (abort.signal.aborted) break;
      // Several events yielded together (a decoding step's tokens) go out in one write.
      raw.write(
        Array.isArray(event) ? event.map(formatSseEvent).join('') : formatSseEvent(event as SseEvent),
      );
    }
  } catch (error) {
    if (!abort.signal.aborted) {
      const e = error as { code?: unknown; message?: unknown };
      raw.write(
        formatSseEvent({
          event: 'error',
          data: {
            code: typeof e.code === 'string' ? e.code : 'INTERNAL',
            message: String(e.message ?? error),
          },
        }),
      );
    }
  } finally {
    if (heartbeat !== undefined) clearInterval(heartbeat);
    raw.off('close', onClose);
    raw.end();
  }
}
