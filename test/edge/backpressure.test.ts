/**
 * Flow control between a slow client and a fast upstream, and cancellation: a client that stops
 * reading must pause the upstream (the upstream's own writes hit backpressure) while the router
 * holds at most its configured bytes; a client that resumes gets every byte in order; a client
 * that leaves cancels the upstream request at once.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream, type RecordedRequest } from './support/fake-upstream.ts';
import { metricValue, rawPost, startEdge, waitFor, type StartedEdge } from './support/edge-harness.ts';
import { RoundRobinRouting } from './support/round-robin-routing.ts';

const CAP = 256 * 1024;
let upstream: FakeUpstream;
let routing: RoundRobinRouting;
let edge: StartedEdge;

beforeAll(async () => {
  upstream = await FakeUpstream.start('a');
  routing = new RoundRobinRouting([upstream.endpoint]);
  edge = await startEdge(routing, { upstream: { maxBufferedBytes: CAP } });
});

afterAll(async () => {
  await edge.server.shutdown(500);
  await upstream.stop();
});

afterEach(() => upstream.set({}));

const streamRequest = rawPost(
  '/v1/chat/completions',
  JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'flood me' }], stream: true }),
);

/** A raw client socket whose reading we control. */
function connect(): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect(edge.server.port, '127.0.0.1', () => resolve(socket));
  });
}

/** Samples the router's buffered-bytes gauge until stopped; returns the maximum seen. */
function sampleBuffered(): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await metricValue(edge.metrics, 'kvedge_buffered_response_bytes'));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return max;
    },
  };
}

describe('slow client', () => {
  it('pauses the upstream and keeps the router’s buffer bounded; the client leaving cancels it', async () => {
    upstream.set({ mode: 'flood', floodChunkBytes: 16 * 1024, floodMaxBytes: 512 * 1024 * 1024 });
    const sampler = sampleBuffered();
    const socket = await connect();
    socket.pause(); // never read: kernel buffers fill, then uWS reports backpressure
    socket.write(streamRequest);

    const record = await stalledUpstream();
    // Stalled far from the 512 MiB it wanted to send: only kernel socket buffers hold the rest.
    expect(record.backpressureEvents).toBeGreaterThan(0);
    expect(record.bytesWritten).toBeLessThan(200 * 1024 * 1024);
    expect(record.completed).toBe(false);
    const heldNow = await metricValue(edge.metrics, 'kvedge_buffered_response_bytes');
    const maxBuffered = await sampler.stop();
    expect(heldNow).toBeGreaterThan(0); // the relay holds bytes for the client…
    expect(maxBuffered).toBeLessThanOrEqual(CAP); // …but never more than the cap

    socket.destroy();
    await waitFor(() => record.aborted, 2_000, 'upstream cancellation');
    await waitFor(() => routing.leases.at(-1)!.outcome !== undefined, 2_000, 'lease release');
    expect(routing.leases.at(-1)!.outcome!.ok).toBe(false);
    await waitFor(
      async () => (await metricValue(edge.metrics, 'kvedge_buffered_response_bytes')) === 0,
      2_000,
      'buffer release',
    );
    expect(
      await metricValue(edge.metrics, 'kvedge_requests_total', { status: '499' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('delivers every byte in order to a client that pauses and resumes', async () => {
    upstream.set({ mode: 'flood', floodChunkBytes: 16 * 1024, floodMaxBytes: 24 * 1024 * 1024 });
    const socket = await connect();
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.pause();
    socket.write(streamRequest);
    await stalledUpstream();
    const ended = new Promise<void>((resolve) => {
      socket.on('data', () => {
        if (received.at(-1)!.toString('latin1').endsWith('0\r\n\r\n')) resolve();
      });
    });
    socket.resume();
    await ended;
    socket.destroy();
    const raw = Buffer.concat(received).toString('latin1');
    const body = dechunk(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    expect(upstream.last!.completed).toBe(true);
    expect(body.length).toBe(upstream.sentBytes().length);
    expect(body.equals(upstream.sentBytes())).toBe(true);
  });
  it('gives up on a client that holds more than the cap and cancels the upstream', async () => {
    // A cap below any chunk size: the router pauses the upstream at the first backpressured write,
    // and with a 4 KB cap the chunks held by then (TCP may deliver the 16 KB writes in smaller
    // pieces) could stay under it, leaving the stream paused until the body timeout.
    const tight = await startEdge(routing, { upstream: { maxBufferedBytes: 1 } });
    try {
      upstream.set({ mode: 'flood', floodChunkBytes: 16 * 1024, floodMaxBytes: 512 * 1024 * 1024 });
      const socket = net.connect(tight.server.port, '127.0.0.1');
      socket.pause();
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(streamRequest);
      await waitFor(() => upstream.last?.aborted === true, 20_000, 'upstream cancellation');
      expect(
        await metricValue(tight.metrics, 'kvedge_upstream_errors_total', { kind: 'client_too_slow' }),
      ).toBe(1);
      socket.resume(); // read what was in flight; the router has closed the connection
      await closed;
    } finally {
      await tight.server.shutdown(500);
    }
  });
});

describe('client disconnect', () => {
  it('cancels a streaming upstream request as soon as the client goes away', async () => {
    upstream.set({ chunkDelayMs: 50, tokens: Array.from({ length: 200 }, (_, i) => ` t${i}`) });
    const controller = new AbortController();
    const stream = await edge
      .openai()
      .chat.completions.create(
        { model: 'test-model', messages: [{ role: 'user', content: 'long answer' }], stream: true },
        { signal: controller.signal },
      );
    let chunks = 0;
    await (async () => {
      for await (const _chunk of stream) {
        if (++chunks === 3) controller.abort();
      }
    })().catch(() => undefined);
    const record = upstream.last!;
    await waitFor(() => record.aborted, 1_000, 'upstream abort');
    expect(record.sent.length).toBeLessThan(20);
    await waitFor(() => routing.leases.at(-1)!.outcome !== undefined, 1_000, 'lease release');
    expect(routing.leases.at(-1)!.outcome!.ok).toBe(false);
    expect(edge.server.inflight).toBe(0);
  });

  it('cancels an upstream request that has not answered yet', async () => {
    upstream.set({ mode: 'hang' });
    const controller = new AbortController();
    const pending = fetch(`${edge.baseUrl}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'test-model', prompt: 'x' }),
      signal: controller.signal,
    }).catch(() => undefined);
    await waitFor(
      () => upstream.last?.body.toString().includes('"prompt":"x"') === true && !upstream.last.completed,
    );
    const record = upstream.last!;
    controller.abort();
    await pending;
    await waitFor(() => record.aborted, 1_000, 'upstream abort');
  });
});

/** Wait until the last upstream request has made no write progress for 300 ms. */
async function stalledUpstream(): Promise<RecordedRequest> {
  await waitFor(
    () => upstream.last !== undefined && upstream.last.bytesWritten > 0,
    5_000,
    'upstream writing',
  );
  const record = upstream.last!;
  let previous = -1;
  await waitFor(
    async () => {
      const now = record.bytesWritten;
      const stalled = now === previous;
      previous = now;
      if (!stalled) await new Promise((resolve) => setTimeout(resolve, 300));
      return stalled;
    },
    20_000,
    'upstream stall',
  );
  return record;
}

/** Decode an HTTP/1.1 chunked body. */
function dechunk(text: string): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (size === 0) break;
    parts.push(Buffer.from(text.slice(lineEnd + 2, lineEnd + 2 + size), 'latin1'));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
