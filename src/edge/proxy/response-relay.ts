/**
 * Relays one upstream response body to the client with bounded buffering.
 *
 * Two modes:
 * - collect: a non-SSE body with a Content-Length no larger than `maxBufferedBytes` is gathered
 *   and sent in one `end` (the client gets the same Content-Length, one syscall for short bodies,
 *   and a failure mid-body can still be answered with a clean 502/504);
 * - stream: everything else (SSE, chunked or large bodies) is written chunk by chunk. When uWS
 *   reports backpressure (`write` returns false) the upstream is paused; on `onWritable` the
 *   relay drains uWS's buffer, writes what it queued meanwhile and resumes the upstream.
 *
 * uWS quirks this relies on (measured on the bundled build): with an onWritable handler
 * registered, uWS does not drain its own buffer — an empty `cork()` does; a `write` returning
 * true proves uWS's buffer is empty. Bytes handed to uWS by writes that returned false are
 * counted as held until such a proof, so the count is an upper bound. When held bytes exceed
 * `maxBufferedBytes` the client is too slow and the exchange is dropped.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Gauge } from 'prom-client';
import type { ClientExchange, HeaderPairs } from '../client-exchange.ts';
import { stripHopByHop } from '../hop-by-hop.ts';
import { UpstreamFailure } from './upstream-failure.ts';

/** Pause/resume of the upstream body (undici's DispatchController). */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export interface RelayOptions {
  readonly maxBufferedBytes: number;
  /** Response headers the edge adds (endpoint header); these names are dropped from the upstream's. */
  readonly addHeaders: HeaderPairs;
  /** Upstream header names never relayed (framing, date and the edge's own headers). */
  readonly dropHeaders: ReadonlySet<string>;
  readonly bufferedBytes: Gauge;
  /** Called with true when the relay pauses the upstream, false when it resumes it. */
  readonly onFlowChange: (paused: boolean) => void;
}

/** SSE event closing a stream that failed after its first byte (the OpenAI client throws on it). */
export function sseErrorEvent(status: number, message: string): string {
  const type = status === 504 ? 'GatewayTimeoutError' : 'BadGatewayError';
  return `data: ${JSON.stringify({ error: { message, type, param: null, code: status } })}\n\n`;
}

export class ResponseRelay {
  readonly isEventStream: boolean;
  private readonly collect: boolean;
  private readonly headers: HeaderPairs;
  private collected: Buffer[] = [];
  private queue: Buffer[] = [];
  /** Bytes counted in the gauge for this response. */
  private held = 0;
  /** Upper bound of what uWS buffers for us (writes that returned false since the last true). */
  private uwsHeld = 0;
  private blocked = false;
  private writableRegistered = false;
  private wroteBody = false;

  constructor(
    private readonly exchange: ClientExchange,
    private readonly flow: FlowControl,
    private readonly options: RelayOptions,
    private readonly status: number,
    private readonly reason: string | undefined,
    upstreamHeaders: IncomingHttpHeaders,
  ) {
    const contentType = String(upstreamHeaders['content-type'] ?? '');
    this.isEventStream = contentType.startsWith('text/event-stream');
    const length = Number(upstreamHeaders['content-length'] ?? NaN);
    this.collect = !this.isEventStream && Number.isFinite(length) && length <= options.maxBufferedBytes;
    this.headers = responseHeaders(upstreamHeaders, options);
  }

  /** Some body bytes went to the client: a failure can no longer be answered with a status. */
  get clientSawBody(): boolean {
    return this.wroteBody;
  }

  /** Relay a body chunk. Throws UpstreamFailure('client_too_slow') when the buffer cap is exceeded. */
  push(chunk: Buffer): void {
    if (this.collect) {
      this.collected.push(chunk);
      this.hold(chunk.length);
      return;
    }
    if (this.blocked) {
      this.queue.push(chunk);
      this.hold(chunk.length);
      this.checkCap();
      return;
    }
    this.writeChunk(chunk);
  }

  /** The upstream body ended: complete the client response. */
  finish(): void {
    if (this.collect) {
      const body = Buffer.concat(this.collected);
      this.collected = [];
      this.exchange.respond(this.status, this.headers, body);
    } else {
      this.flushQueueUnconditionally();
      if (!this.exchange.started) this.exchange.startStream(this.status, this.reason, this.headers);
      this.exchange.end();
    }
    this.releaseAll();
  }

  /**
   * The upstream failed after its response started. SSE streams that already sent bytes get an
   * error event and a clean end (no `[DONE]`, so no client mistakes it for a complete answer);
   * other started bodies lose the connection, so a truncated body is never taken as complete.
   * Returns false when nothing was sent yet and the caller should answer with an error status.
   */
  fail(status: number, message: string): boolean {
    if (!this.wroteBody) {
      this.releaseAll();
      return false;
    }
    if (this.isEventStream) {
      this.flushQueueUnconditionally();
      this.exchange.end(sseErrorEvent(status, message));
    } else {
      this.exchange.close();
    }
    this.releaseAll();
    return true;
  }

  /** Forget held bytes (response over or abandoned). */
  releaseAll(): void {
    this.queue = [];
    this.collected = [];
    this.uwsHeld = 0;
    this.hold(-this.held);
  }

  private writeChunk(chunk: Buffer): void {
    if (!this.wroteBody) {
      this.wroteBody = true;
      this.exchange.startStream(this.status, this.reason, this.headers);
    }
    if (this.exchange.write(chunk)) {
      // uWS only accepts a write without backpressure when its own buffer is empty.
      this.hold(-this.uwsHeld);
      this.uwsHeld = 0;
      return;
    }
    this.uwsHeld += chunk.length;
    this.hold(chunk.length);
    this.block();
    this.checkCap();
  }

  private block(): void {
    this.blocked = true;
    if (!this.writableRegistered) {
      this.writableRegistered = true;
      this.exchange.onWritable(this.onWritable);
    }
    this.flow.pause();
    this.options.onFlowChange(true);
  }

  private readonly onWritable = (): boolean => {
    if (!this.exchange.isOpen) return true;
    this.exchange.drain();
    if (!this.blocked) return true;
    while (this.queue.length > 0) {
      const chunk = this.queue.shift()!;
      this.hold(-chunk.length);
      if (!this.exchange.write(chunk)) {
        this.uwsHeld += chunk.length;
        this.hold(chunk.length);
        return true;
      }
      this.hold(-this.uwsHeld);
      this.uwsHeld = 0;
    }
    this.blocked = false;
    this.flow.resume();
    this.options.onFlowChange(false);
    return true;
  };

  /** Hand everything queued to uWS (end of response: uWS drains it on its own after `end`). */
  private flushQueueUnconditionally(): void {
    for (const chunk of this.queue) this.exchange.write(chunk);
    this.queue = [];
  }

  private checkCap(): void {
    if (this.held > this.options.maxBufferedBytes) {
      throw new UpstreamFailure(
        'client_too_slow',
        `client is not reading: more than ${this.options.maxBufferedBytes} response bytes held`,
      );
    }
  }

  private hold(delta: number): void {
    if (delta === 0) return;
    this.held += delta;
    this.options.bufferedBytes.inc(delta);
  }
}

function responseHeaders(upstream: IncomingHttpHeaders, options: RelayOptions): HeaderPairs {
  const pairs: (readonly [string, string])[] = [];
  const relayed = stripHopByHop(upstream, options.dropHeaders);
  for (const name in relayed) {
    const value = relayed[name]!;
    if (Array.isArray(value)) for (const v of value) pairs.push([name, v]);
    else pairs.push([name, value]);
  }
  pairs.push(...options.addHeaders);
  return pairs;
}
