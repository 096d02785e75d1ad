import { setTimeout as delay } from 'node:timers/promises';
import { Publisher } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import type { KvEvent } from '../../src/kv-protocol/events.ts';
import { encodeEventBatch } from '../../src/kv-protocol/event-encoder.ts';
import { encodeSequence } from '../../src/kv-protocol/sequence.ts';
import { KvEventPublisher, type KvEventPublisherOptions } from '../../src/sim/kv-events/publisher.ts';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { KvEventSubscriber } from '../../src/index-store/kv-event-subscriber.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import { freePort } from '../support/free-port.ts';

const MODEL = 'Qwen/Qwen3-0.6B';
const POD = 'pod-a';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

interface Rig {
  index: MemoryBlockIndex;
  subscriber: KvEventSubscriber;
  publisher: KvEventPublisher;
  /** Publishes events as one batch; resolves once the subscriber has handled that batch. */
  send(...events: KvEvent[]): Promise<void>;
}

async function rig(options: KvEventPublisherOptions & { replay?: boolean } = {}): Promise<Rig> {
  const index = MemoryBlockIndex.create({ capacityKeys: 4096, sweepIntervalMs: 0 });
  cleanups.push(() => index.close());
  const publisher = await KvEventPublisher.open({
    endpoint: 'tcp://127.0.0.1:*',
    replayEndpoint: options.replay ? 'tcp://127.0.0.1:*' : null,
    topic: `kv@10.9.9.9:8000@${MODEL}`,
    ...options,
  });
  cleanups.push(() => publisher.close());
  const subscriber = new KvEventSubscriber({ index, reconnectIntervalMs: 100 });
  cleanups.push(() => subscriber.close());
  subscriber.addPod(POD, publisher.endpoint, publisher.replayEndpoint, MODEL);
  // PUB/SUB drops messages until the subscription has propagated: publish empty batches until one lands.
  await waitForConnection(publisher, subscriber, POD);
  return {
    index,
    subscriber,
    publisher,
    async send(...events) {
      const seq = publisher.publish({ ts: Date.now() / 1000, events, dataParallelRank: null });
      await waitFor(() => lastSequence(subscriber, POD) === seq, `batch ${seq} to be applied`);
    },
  };
}

function lastSequence(subscriber: KvEventSubscriber, podId: string): bigint | null | undefined {
  return subscriber.status().find((s) => s.podId === podId)?.lastSequence;
}

async function waitForConnection(
  publisher: KvEventPublisher,
  subscriber: KvEventSubscriber,
  podId: string,
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (lastSequence(subscriber, podId) == null) {
    if (Date.now() > deadline) throw new Error('subscriber never connected');
    publisher.publish({ ts: 0, events: [], dataParallelRank: null });
    await delay(20);
  }
  await publisher.flush();
  await waitFor(
    () => lastSequence(subscriber, podId) === publisher.nextSequence - 1n,
    'the connection probes',
  );
}

function tokens(n: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => seed * 1000 + i);
}

function keysOf(prompt: number[]): BigUint64Array {
  return computeBlockKeys(prompt, 16, blockKeyRoot(MODEL, null, null));
}

function stored(hashes: bigint[], tokenIds: number[], parent: bigint | null = null): KvEvent {
  return {
    type: 'BlockStored',
    blockHashes: hashes,
    parentBlockHash: parent,
    tokenIds,
    blockSize: 16,
    loraId: null,
    medium: 'GPU',
    loraName: null,
    extraKeys: tokenIds.length / 16 === 1 ? [null] : null,
    groupIdx: 0,
    kvCacheSpecKind: 'full_attention',
  };
}

function blocksOf(index: MemoryBlockIndex, prompt: number[], pod = POD): number {
  return index.longestPrefix(keysOf(prompt)).get(pod)?.blocks ?? 0;
}

describe('KvEventSubscriber with a vLLM-style publisher', () => {
  const formats = [
    { format: 'array', hashType: 'int' },
    { format: 'array', hashType: 'bytes' },
    { format: 'map', hashType: 'int' },
    { format: 'map', hashType: 'bytes' },
  ] as const;

  for (const wire of formats) {
    it(`applies stores, chained stores, refcounted removals and clears (${wire.format}, ${wire.hashType} hashes)`, async () => {
      const { index, send } = await rig(wire);
      const prompt = tokens(64);
      // Hashes above 2^63 exercise the u64 path of both hash encodings.
      const h = [0xf000_0000_0000_0001n, 0xf000_0000_0000_0002n, 3n, 4n];

      await send(stored([h[0]!, h[1]!], prompt.slice(0, 32)));
      expect(blocksOf(index, prompt)).toBe(2);

      await send(stored([h[2]!, h[3]!], prompt.slice(32), h[1]!));
      expect(blocksOf(index, prompt)).toBe(4);

      await send(stored([h[2]!], prompt.slice(32, 48), h[1]!)); // vLLM stored block 2 twice
      await send({ type: 'BlockRemoved', blockHashes: [h[2]!], medium: 'GPU' });
      expect(blocksOf(index, prompt)).toBe(4);
      await send({ type: 'BlockRemoved', blockHashes: [h[2]!], medium: 'GPU' });
      expect(blocksOf(index, prompt)).toBe(2);

      await send({ type: 'AllBlocksCleared' });
      expect(blocksOf(index, prompt)).toBe(0);
    });
  }

  it('replays a gap from the replay socket and applies it in order', async () => {
    const { index, subscriber, publisher, send } = await rig({ replay: true });
    const baseline = { ...subscriber.counters };
    const prompt = tokens(48);
    publisher.dropNextBatches(2); // lost on the wire, kept in the replay ring
    publisher.publish({ ts: 1, events: [stored([1n], prompt.slice(0, 16))], dataParallelRank: null });
    publisher.publish({ ts: 2, events: [stored([2n], prompt.slice(16, 32), 1n)], dataParallelRank: null });
    await send(stored([3n], prompt.slice(32), 2n));
    expect(blocksOf(index, prompt)).toBe(3);
    const c = subscriber.counters;
    expect(c.gaps - baseline.gaps).toBe(1);
    expect(c.replayedBatches - baseline.replayedBatches).toBe(2);
    expect(c.replaysFailed + c.resyncs).toBe(0);
    expect(subscriber.status()[0]!.lastSequence).toBe(publisher.nextSequence - 1n);
  });

  it('catches up from the replay socket on connecting to a pod that has been running', async () => {
    const publisher = await KvEventPublisher.open({
      endpoint: 'tcp://127.0.0.1:*',
      replayEndpoint: 'tcp://127.0.0.1:*',
      topic: `kv@x@${MODEL}`,
    });
    cleanups.push(() => publisher.close());
    const prompt = tokens(32, 4);
    publisher.publish({ ts: 1, events: [stored([1n], prompt.slice(0, 16))], dataParallelRank: null });
    publisher.publish({ ts: 2, events: [stored([2n], prompt.slice(16), 1n)], dataParallelRank: null });
    await publisher.flush(); // published before anyone subscribed: lost on the PUB socket
    const index = MemoryBlockIndex.create({ capacityKeys: 4096, sweepIntervalMs: 0 });
    cleanups.push(() => index.close());
    const subscriber = new KvEventSubscriber({ index });
    cleanups.push(() => subscriber.close());
    subscriber.addPod(POD, publisher.endpoint, publisher.replayEndpoint, MODEL);
    await waitForConnection(publisher, subscriber, POD);
    expect(blocksOf(index, prompt)).toBe(2);
    expect(subscriber.counters.replayedBatches).toBeGreaterThanOrEqual(2);
  });

  it('clears the pod and resynchronises on a gap without replay', async () => {
    const { index, subscriber, publisher, send } = await rig();
    const first = tokens(16, 1);
    const later = tokens(16, 2);
    await send(stored([1n], first));
    expect(blocksOf(index, first)).toBe(1);
    publisher.dropNextBatches(1);
    publisher.publish({ ts: 1, events: [stored([9n], tokens(16, 3))], dataParallelRank: null });
    await send(stored([2n], later));
    expect(subscriber.counters).toMatchObject({ gaps: 1, resyncs: 1 });
    expect(blocksOf(index, first)).toBe(0);
    expect(blocksOf(index, later)).toBe(1);
  });

  it('clears the pod when the publisher restarts its sequence', async () => {
    const { index, subscriber, publisher, send } = await rig();
    const before = tokens(16, 1);
    await send(stored([1n], before));
    await send();
    publisher.resetSequence();
    const after = tokens(16, 2);
    await send(stored([2n], after));
    expect(subscriber.counters.restarts).toBe(1);
    expect(blocksOf(index, before)).toBe(0);
    expect(blocksOf(index, after)).toBe(1);
  });

  it('removes a pod from the index when it is removed', async () => {
    const { index, subscriber, send } = await rig();
    const prompt = tokens(32);
    await send(stored([1n, 2n], prompt));
    expect(blocksOf(index, prompt)).toBe(2);
    await subscriber.removePod(POD);
    expect(blocksOf(index, prompt)).toBe(0);
    expect(index.podIds()).toEqual([]);
    expect(subscriber.status()).toEqual([]);
  });

  it('counts malformed frames and payloads and keeps working', async () => {
    const port = await freePort();
    const pub = new Publisher({ linger: 0 });
    await pub.bind(`tcp://127.0.0.1:${port}`);
    cleanups.push(() => pub.close());
    const index = MemoryBlockIndex.create({ capacityKeys: 4096, sweepIntervalMs: 0 });
    cleanups.push(() => index.close());
    const subscriber = new KvEventSubscriber({ index });
    cleanups.push(() => subscriber.close());
    subscriber.addPod(POD, `tcp://127.0.0.1:${port}`, null, MODEL);

    const topic = Buffer.from(`kv@x@${MODEL}`);
    let seq = 0n;
    const batch = (events: KvEvent[]): Buffer => encodeEventBatch({ ts: 1, events, dataParallelRank: 0 });
    const deadline = Date.now() + 5000;
    while (subscriber.counters.batchesApplied === 0) {
      if (Date.now() > deadline) throw new Error('subscriber never connected');
      await pub.send([topic, encodeSequence(seq++), batch([])]);
      await delay(20);
    }
    await delay(50);
    const baseline = { ...subscriber.counters };

    await pub.send([topic, encodeSequence(seq)]); // 2 frames (not a batch: does not consume a sequence)
    await pub.send([topic, Buffer.from([0, 0, 0, 1]), batch([])]); // short sequence
    await pub.send([topic, encodeSequence(seq++), Buffer.from('not msgpack at all \xc1')]); // garbage
    await pub.send([topic, encodeSequence(seq++), Buffer.from([0x92, 0x01])]); // msgpack, not a batch
    await pub.send([topic, encodeSequence(seq++), batch([{ type: 'AllBlocksCleared' }])]);
    const prompt = tokens(16);
    await pub.send([topic, encodeSequence(seq++), batch([stored([5n], prompt)])]);
    await waitFor(() => blocksOf(index, prompt) === 1, 'the valid batch after the malformed ones');
    // A duplicate (same sequence again) is dropped: applying it would add a second reference.
    const dupSeq = encodeSequence(seq++);
    const other = tokens(16, 2);
    await pub.send([topic, dupSeq, batch([stored([6n], other)])]);
    await pub.send([topic, dupSeq, batch([stored([6n], other)])]);
    await pub.send([
      topic,
      encodeSequence(seq++),
      batch([{ type: 'BlockRemoved', blockHashes: [6n], medium: null }]),
    ]);
    await waitFor(() => lastSequence(subscriber, POD) === seq - 1n, 'the removal');
    expect(blocksOf(index, other)).toBe(0);

    const c = subscriber.counters;
    expect(c.duplicates - baseline.duplicates).toBe(1);
    expect(c.malformedFrames - baseline.malformedFrames).toBe(1);
    expect(c.badSequence - baseline.badSequence).toBe(1);
    expect(c.decodeErrors - baseline.decodeErrors).toBe(2);
    expect(c.batchesApplied - baseline.batchesApplied).toBe(4);
    expect(c.gaps).toBe(0);
  });

  it('merges the data-parallel ranks of a pod, each with its own sequence', async () => {
    const index = MemoryBlockIndex.create({ capacityKeys: 4096, sweepIntervalMs: 0 });
    cleanups.push(() => index.close());
    const subscriber = new KvEventSubscriber({ index });
    cleanups.push(() => subscriber.close());
    // vLLM offsets the endpoint port by the rank: rank 1 of `tcp://…:<port-1>` binds <port>.
    const port = await freePort();
    const ranks = await Promise.all([
      KvEventPublisher.open({ endpoint: 'tcp://127.0.0.1:*', topic: `kv@x@${MODEL}`, dataParallelRank: 0 }),
      KvEventPublisher.open({ endpoint: `tcp://*:${port - 1}`, topic: `kv@x@${MODEL}`, dataParallelRank: 1 }),
    ]);
    const endpoints = [ranks[0]!.endpoint, `tcp://127.0.0.1:${port}`];
    for (const p of ranks) cleanups.push(() => p.close());
    for (const endpoint of endpoints) subscriber.addPod(POD, endpoint, null, MODEL);
    expect(() => subscriber.addPod(POD, endpoints[0]!, null, MODEL)).toThrow(/already subscribed/);
    const probe = async (p: KvEventPublisher, endpoint: string): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (subscriber.status().find((s) => s.source === endpoint)?.lastSequence == null) {
        if (Date.now() > deadline) throw new Error('rank never connected');
        p.publish({ ts: 0, events: [], dataParallelRank: null });
        await delay(20);
      }
    };
    await Promise.all(ranks.map((p, rank) => probe(p, endpoints[rank]!)));
    const a = tokens(16, 5);
    const b = tokens(16, 6);
    ranks[0]!.publish({ ts: 1, events: [stored([1n], a)], dataParallelRank: null });
    ranks[1]!.publish({ ts: 1, events: [stored([1n], b)], dataParallelRank: null });
    await waitFor(() => blocksOf(index, a) === 1 && blocksOf(index, b) === 1, 'both ranks indexed');
    expect(subscriber.counters.gaps + subscriber.counters.restarts).toBe(0);
    await subscriber.removePod(POD);
    expect(blocksOf(index, a) + blocksOf(index, b)).toBe(0);
    expect(subscriber.status()).toEqual([]);
  });

  it('binds a central endpoint that pods dial, identifying them by topic', async () => {
    const index = MemoryBlockIndex.create({ capacityKeys: 4096, sweepIntervalMs: 0 });
    cleanups.push(() => index.close());
    const subscriber = new KvEventSubscriber({ index });
    cleanups.push(() => subscriber.close());
    const endpoint = await subscriber.listen('tcp://127.0.0.1:*');
    const pubs = await Promise.all(
      ['10.0.0.1:8000', '10.0.0.2:8000'].map((pod) =>
        KvEventPublisher.open({ endpoint, topic: `kv@${pod}@${MODEL}`, format: 'map' }),
      ),
    );
    for (const p of pubs) cleanups.push(() => p.close());
    await waitForConnection(pubs[0]!, subscriber, '10.0.0.1:8000');
    await waitForConnection(pubs[1]!, subscriber, '10.0.0.2:8000');

    const prompt = tokens(32);
    pubs[0]!.publish({ ts: 1, events: [stored([1n, 2n], prompt)], dataParallelRank: null });
    pubs[1]!.publish({ ts: 1, events: [stored([1n], prompt.slice(0, 16))], dataParallelRank: null });
    await waitFor(() => index.longestPrefix(keysOf(prompt)).size === 2, 'both pods indexed');
    expect(Object.fromEntries(index.longestPrefix(keysOf(prompt)))).toEqual({
      '10.0.0.1:8000': { blocks: 2, weighted: 2 },
      '10.0.0.2:8000': { blocks: 1, weighted: 1 },
    });
    expect(
      subscriber
        .status()
        .map((s) => s.podId)
        .sort(),
    ).toEqual(['10.0.0.1:8000', '10.0.0.2:8000']);
  });
});
