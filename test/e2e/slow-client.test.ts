/**
 * A slow client through the real router: a raw TCP client asks for a long stream and stops
 * reading. Once the kernel buffers between router and client are full, the router must hold only
 * a bounded number of bytes for that response (admin /metrics `kvedge_buffered_response_bytes`
 * stays under `upstream.maxBufferedBytes`) although the pod keeps producing, keep serving other
 * clients meanwhile, and cancel the upstream request as soon as the client goes away.
 *
 * Volume: a pod emits at most one token per millisecond per stream, so the stream is made wide
 * instead: it is for a LoRA adapter with a 3,000-character name, which every SSE chunk repeats
 * (~3.2 KB per chunk, ~3 MB/s), filling the loopback socket buffers within a few seconds.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminMetrics,
  chatBody,
  metricSum,
  postJson,
  rawPost,
  sleep,
  startStack,
  waitFor,
  type Stack,
} from './support/stack.ts';

const CAP = 256 * 1024;
const WIDE_MODEL = `slow-client-${'x'.repeat(3_000)}`;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack(
    { pods: 2, speed: 1000, maxModelLen: 131_072, loraModules: [WIDE_MODEL] },
    { edge: { upstream: { maxBufferedBytes: CAP } } },
  );
  await waitFor(
    async () => {
      const body = (await (await fetch(`${stack.baseUrl}/v1/models`)).json()) as { data: unknown[] };
      return body.data.length === 2;
    },
    10_000,
    'the router to learn the adapter',
  );
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

async function bufferedBytes(): Promise<number> {
  return metricSum(await adminMetrics(stack), 'kvedge_buffered_response_bytes');
}

describe('a client that stops reading', () => {
  it('holds a bounded number of bytes for it, serves others meanwhile, and cancels the upstream when it leaves', async () => {
    const socket = net.connect(stack.router.port, '127.0.0.1');
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      socket.pause(); // read the first bytes, then never again
    });
    socket.on('error', () => undefined);
    socket.write(
      rawPost(
        '/v1/chat/completions',
        JSON.stringify({
          model: WIDE_MODEL,
          messages: [{ role: 'user', content: 'Write forever.' }],
          max_tokens: 100_000,
          stream: true,
        }),
      ),
    );
    try {
      await waitFor(() => received > 0, 5_000, 'the stream to start');
      const pod = stack.pods.find((p) => p.engineStats.running === 1)!;
      expect(pod).toBeDefined();
      const generatedAtStart = pod.engineStats.generationTokensTotal;

      // Sample the gauge until the router has had to hold bytes (the kernel buffers are full)
      // and for a while after, serving other clients all along.
      let max = 0;
      let heldSince = 0;
      let served = 0;
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (heldSince === 0 || Date.now() - heldSince < 1_500)) {
        const held = await bufferedBytes();
        max = Math.max(max, held);
        if (held > 0 && heldSince === 0) heldSince = Date.now();
        const other = await postJson(`${stack.baseUrl}/v1/chat/completions`, chatBody(`other ${served}`));
        expect(other.status).toBe(200);
        served++;
        await sleep(20);
      }
      expect(heldSince, 'the router never had to hold bytes for the slow client').toBeGreaterThan(0);
      expect(max).toBeGreaterThan(0);
      expect(max).toBeLessThanOrEqual(CAP);
      expect(served).toBeGreaterThan(10);
      // Meanwhile the pod kept generating: far more than the cap was produced for this response.
      const generated = pod.engineStats.generationTokensTotal - generatedAtStart;
      expect(generated * 3_000).toBeGreaterThan(4 * CAP);
      expect(pod.engineStats.running).toBe(1);

      // The client leaves: the router cancels the upstream request and releases what it held.
      socket.destroy();
      await waitFor(() => pod.engineStats.running === 0, 3_000, 'the pod to drop the request');
      await waitFor(async () => (await bufferedBytes()) === 0, 3_000, 'the held bytes to be released');
      const metrics = await adminMetrics(stack);
      expect(metricSum(metrics, 'kvedge_requests_total', { status: '499' })).toBe(1);
      expect(metricSum(metrics, 'kvedge_inflight_requests')).toBe(0);
    } finally {
      socket.destroy();
    }
  });
});
