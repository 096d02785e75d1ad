/**
 * Two acceptor threads serve one port: both take connections, each builds its own routing service
 * from the factory module, metrics are collected per thread and summed, and stop() drains and
 * exits cleanly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AcceptorThreads } from '../../src/edge/acceptor-threads.ts';
import { FakeUpstream } from './support/fake-upstream.ts';

let upstream: FakeUpstream;
let threads: AcceptorThreads;

beforeAll(async () => {
  upstream = await FakeUpstream.start('a');
  threads = await AcceptorThreads.start({
    threads: 2,
    config: { host: '127.0.0.1', port: 0 },
    routingModule: new URL('./support/round-robin-routing.ts', import.meta.url).href,
    routingOptions: { upstreams: [upstream.endpoint] },
    logLevel: 'silent',
  });
});

afterAll(async () => {
  await threads?.stop(1_000);
  await upstream.stop();
});

function requestsServed(metrics: Awaited<ReturnType<AcceptorThreads['threadMetrics']>>[number]): number {
  const counter = metrics.find((m) => m.name === 'kvedge_requests_total');
  return (counter?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

describe('acceptor threads', () => {
  it('serve one port from two threads that both take requests', async () => {
    const total = 20;
    for (let i = 0; i < total; i++) {
      // A new connection per request: the kernel balances connections, not requests.
      const response = await fetch(`http://127.0.0.1:${threads.port}/v1/completions`, {
        method: 'POST',
        headers: { connection: 'close' },
        body: JSON.stringify({ model: 'test-model', prompt: `request ${i}` }),
      });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
    const perThread = (await threads.threadMetrics()).map(requestsServed);
    expect(perThread).toHaveLength(2);
    expect(perThread[0]! + perThread[1]!).toBe(total);
    expect(perThread[0]).toBeGreaterThan(0);
    expect(perThread[1]).toBeGreaterThan(0);

    const summed = await (await threads.metricsRegistry()).metrics();
    expect(summed).toMatch(new RegExp(`kvedge_requests_total\\{[^}]*status="200"[^}]*\\} ${total}`));
    expect(upstream.requests.length).toBeGreaterThanOrEqual(total);
  });

  it('rejects bad settings in the calling thread, before starting any thread', async () => {
    const routingModule = new URL('./support/round-robin-routing.ts', import.meta.url).href;
    await expect(AcceptorThreads.start({ threads: 0, config: {}, routingModule })).rejects.toThrow(/threads/);
    await expect(
      AcceptorThreads.start({ threads: 2, config: { maxHeaderCount: 100 }, routingModule }),
    ).rejects.toThrow(/maxHeaderCount/);
  });
});
