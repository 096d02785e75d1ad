/**
 * Graceful shutdown: the listen socket closes at once, in-flight streams finish within the drain
 * deadline, requests arriving on kept-alive connections are turned away with 503 + close, and
 * whatever outlives the deadline is cut (its upstream request cancelled).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.ts';
import { rawPost, startEdge, waitFor } from './support/edge-harness.ts';
import { RoundRobinRouting } from './support/round-robin-routing.ts';

let upstream: FakeUpstream;

beforeAll(async () => {
  upstream = await FakeUpstream.start('a');
});

afterAll(() => upstream.stop());

const tokens = Array.from({ length: 12 }, (_, i) => ` w${i}`);

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('graceful shutdown', () => {
  it('lets an in-flight stream finish while refusing new connections', async () => {
    upstream.set({ chunkDelayMs: 40, tokens });
    const routing = new RoundRobinRouting([upstream.endpoint]);
    const edge = await startEdge(routing);
    // A kept-alive connection that has already served a request.
    const idle = net.connect(edge.server.port, '127.0.0.1');
    const idleReplies: Buffer[] = [];
    idle.on('data', (c: Buffer) => idleReplies.push(c));
    idle.write(rawPost('/v1/completions', '{"model":"test-model","prompt":"warm"}'));
    await waitFor(() => Buffer.concat(idleReplies).toString().includes('"text_completion"'));
    upstream.set({ chunkDelayMs: 40, tokens });

    const stream = await edge.openai().chat.completions.create({
      model: 'test-model',
      messages: [{ role: 'user', content: 'keep going' }],
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    let text = '';
    text += (await iterator.next()).value?.choices[0]?.delta.content ?? '';

    const shutdown = edge.server.shutdown(10_000);
    let shutdownDone = false;
    void shutdown.then(() => (shutdownDone = true));
    expect(await refused(edge.server.port)).toBe(true);
    expect(edge.server.draining).toBe(true);

    // The kept-alive connection may still send a request: it is turned away and closed.
    idleReplies.length = 0;
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    idle.write(rawPost('/v1/completions', '{"model":"test-model","prompt":"late"}'));
    await idleClosed;
    const late = Buffer.concat(idleReplies).toString();
    expect(late).toMatch(/^HTTP\/1\.1 503 /);
    expect(late).toMatch(/shutting down/);

    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      text += next.value.choices[0]?.delta.content ?? '';
      expect(shutdownDone).toBe(false);
    }
    expect(text).toBe(tokens.join(''));
    await shutdown;
    expect(upstream.last!.completed).toBe(true);
    expect(routing.leases.at(-1)!.outcome?.ok).toBe(true);
  });

  it('cuts what outlives the drain deadline and cancels its upstream', async () => {
    upstream.set({ chunkDelayMs: 200, tokens });
    const edge = await startEdge(new RoundRobinRouting([upstream.endpoint]));
    const stream = await edge.openai().chat.completions.create({
      model: 'test-model',
      messages: [{ role: 'user', content: 'too long' }],
      stream: true,
    });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const record = upstream.last!;
    const started = Date.now();
    await edge.server.shutdown(300);
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(
      (async () => {
        for (;;) if ((await iterator.next()).done) return;
      })(),
    ).rejects.toThrow();
    await waitFor(() => record.aborted, 1_000, 'upstream cancellation');
    expect(edge.server.inflight).toBe(0);
  });
});
