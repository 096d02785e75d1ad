import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import { MemoryBlockIndexReader } from '../../src/index-store/memory-index-reader.ts';
import type { PrefixMatch } from '../../src/index-store/block-index.ts';
import type { ReaderRequest, ReaderWorkerData } from './support/index-reader-worker.ts';

const boot = new URL('./support/ts-worker-boot.mjs', import.meta.url);
const entry = new URL('./support/index-reader-worker.ts', import.meta.url).href;

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface ReaderThread {
  request<T>(message: ReaderRequest, replyType: string): Promise<T>;
  lookup(keys: BigUint64Array, podIds?: string[]): Promise<Map<string, PrefixMatch>>;
}

function startReader(index: MemoryBlockIndex, withWritePort = false): ReaderThread {
  const writePort = withWritePort ? index.openWritePort() : undefined;
  const workerData: ReaderWorkerData = { entry, buffers: index.buffers, ...(writePort ? { writePort } : {}) };
  const worker = new Worker(boot, { workerData, transferList: writePort ? [writePort] : [] });
  cleanups.push(() => worker.terminate());
  let failure: unknown;
  worker.on('error', (err) => (failure = err));
  const request = <T>(message: ReaderRequest, replyType: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (failure) reject(failure);
      const onMessage = (reply: { type: string }): void => {
        if (reply.type !== replyType) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(reply as T);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.postMessage(message);
    });
  return {
    request,
    async lookup(keys, podIds) {
      const reply = await request<{ entries: [string, PrefixMatch][] }>(
        { type: 'lookup', keys, ...(podIds ? { podIds } : {}) },
        'result',
      );
      return new Map(reply.entries);
    },
  };
}

function chain(seed: number, blocks: number): BigUint64Array {
  const tokens = Array.from({ length: blocks * 16 }, (_, i) => seed * 100_000 + i);
  return computeBlockKeys(tokens, 16, blockKeyRoot('model', null, null));
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

describe('MemoryBlockIndexReader in a worker thread', () => {
  // One owner and one reader thread for the file (starting a TypeScript worker takes a while);
  // tests use disjoint pods and keys.
  let index: MemoryBlockIndex;
  let reader: ReaderThread;
  beforeAll(() => {
    index = MemoryBlockIndex.create({ capacityKeys: 4096, slotsPerKey: 16 });
    cleanups.push(() => index.close());
    reader = startReader(index, true);
  });

  it("sees the owner's writes, pods added after it attached, and clears", async () => {
    const keys = chain(1, 4);
    index.add('10.0.0.1:8000', 'gpu', keys, null);
    expect(Object.fromEntries(await reader.lookup(keys))).toEqual({
      '10.0.0.1:8000': { blocks: 4, weighted: 4 },
    });

    index.add('10.0.0.2:8000', 'cpu', keys.subarray(0, 2), null);
    const both = await reader.lookup(keys);
    expect(both.get('10.0.0.2:8000')!.blocks).toBe(2);
    expect(both.get('10.0.0.2:8000')!.weighted).toBeCloseTo(1.6);
    expect([...(await reader.lookup(keys, ['10.0.0.2:8000'])).keys()]).toEqual(['10.0.0.2:8000']);

    index.clearPod('10.0.0.1:8000');
    index.removePod('10.0.0.2:8000');
    expect((await reader.lookup(keys)).size).toBe(0);
  });

  it("forwards the reader's speculative inserts to the owner; everyone ignores them once expired", async () => {
    const keys = chain(2, 3);
    await reader.request({ type: 'speculate', podId: 'p', keys, ttlMs: 300 }, 'speculated');
    await waitFor(() => index.longestPrefix(keys).size === 1, 'the owner to apply the speculative write');
    expect((await reader.lookup(keys)).get('p')).toEqual({ blocks: 3, weighted: 3 });
    await delay(350);
    expect(index.longestPrefix(keys).size).toBe(0);
    expect((await reader.lookup(keys)).size).toBe(0);
  });

  it('fails to attach to a buffer that is not an index', () => {
    expect(() =>
      MemoryBlockIndexReader.attach({
        table: new SharedArrayBuffer(1024),
        pods: new SharedArrayBuffer(1024),
      }),
    ).toThrow(TypeError);
  });

  it('never returns a torn record while the owner rewrites it concurrently', async () => {
    const [key] = chain(3, 1);
    const one = BigUint64Array.of(key!);
    // Eight pods hold the key throughout, each flipping between the gpu and the cpu tier (add the
    // other tier, then remove the current one). Every removal shifts the slots after it, so a reader
    // that mixed two versions of the record would skip or repeat entries and miss a pod.
    const pods = Array.from({ length: 8 }, (_, i) => `stable-${i}`);
    const tiers = pods.map(() => 'gpu');
    for (const pod of pods) index.add(pod, 'gpu', one, null);
    const stop = new Int32Array(new SharedArrayBuffer(8));
    const done = reader.request<{ reads: number; torn: number; gaveUp: number }>(
      { type: 'hammer', key: key!, stablePods: pods, stop: stop.buffer as SharedArrayBuffer },
      'hammered',
    );
    await waitFor(() => Atomics.load(stop, 1) > 0, 'the reader to start');
    // Write until the reader has read plenty meanwhile (bounded in time for slow hosts).
    let writes = 0;
    const readsAtStart = Atomics.load(stop, 1);
    const until = Date.now() + 8000;
    while ((writes < 300_000 || Atomics.load(stop, 1) - readsAtStart < 100_000) && Date.now() < until) {
      for (let i = 0; i < pods.length; i++) {
        const next = tiers[i] === 'gpu' ? 'cpu' : 'gpu';
        index.add(pods[i]!, next, one, null);
        index.removeByRequestKeys(pods[i]!, tiers[i]!, one);
        tiers[i] = next;
        writes += 2;
      }
    }
    Atomics.store(stop, 0, 1);
    const result = await done;
    expect(writes).toBeGreaterThanOrEqual(300_000);
    expect(result.reads - readsAtStart).toBeGreaterThanOrEqual(100_000);
    expect(result.torn).toBe(0);
    expect(result.gaveUp).toBeLessThan(result.reads / 100);
  });
});
