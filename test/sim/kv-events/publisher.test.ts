/**
 * The simulator's KV-event publisher against real ZeroMQ SUB and DEALER sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer, Subscriber } from 'zeromq';
import { decodeEventBatch } from '../../../src/kv-protocol/event-decoder.ts';
import type { KvEventBatch } from '../../../src/kv-protocol/events.ts';
import { decodeSequence } from '../../../src/kv-protocol/sequence.ts';
import { KvEventPublisher } from '../../../src/sim/kv-events/publisher.ts';
import { freePort } from '../../support/free-port.ts';

const TOPIC = 'kv@127.0.0.1:8000@Qwen/Qwen3-0.6B';
const PROBE = Buffer.from('probe');
const END_SEQ = Buffer.alloc(8, 0xff);

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function openPublisher(
  options: Parameters<typeof KvEventPublisher.open>[0],
): Promise<KvEventPublisher> {
  const publisher = await KvEventPublisher.open({ topic: TOPIC, ...options });
  cleanup.push(() => publisher.close());
  return publisher;
}

function openSubscriber(): Subscriber {
  const sub = new Subscriber({ receiveTimeout: 5000, linger: 0 });
  sub.subscribe('kv@');
  cleanup.push(() => sub.close());
  return sub;
}

function batchWithHashes(...hashes: bigint[]): KvEventBatch {
  return {
    ts: 1757500000.25,
    events: [{ type: 'BlockRemoved', blockHashes: hashes, medium: 'GPU' }],
    dataParallelRank: null,
  };
}

/**
 * Defeats ZeroMQ's slow-joiner: publishes probes until one arrives, drains stragglers, then
 * restarts the sequence so the test's first real batch is seq 0.
 */
async function waitUntilSubscribed(publisher: KvEventPublisher, sub: Subscriber): Promise<void> {
  for (;;) {
    publisher.publishPayload(PROBE);
    sub.receiveTimeout = 50;
    try {
      await sub.receive();
      break;
    } catch {
      // not connected yet
    }
  }
  await publisher.flush();
  sub.receiveTimeout = 100;
  for (;;) {
    try {
      await sub.receive();
    } catch {
      break;
    }
  }
  sub.receiveTimeout = 5000;
  publisher.resetSequence();
}

async function receiveLive(sub: Subscriber): Promise<{ frames: Buffer[]; seq: bigint }> {
  const frames = await sub.receive();
  expect(frames).toHaveLength(3);
  expect(frames[0]!.toString('utf8')).toBe(TOPIC);
  expect(frames[1]).toHaveLength(8);
  return { frames, seq: decodeSequence(frames[1]!)! };
}

function hashesOf(payload: Buffer): bigint[] {
  const event = decodeEventBatch(payload).events[0];
  return event && event.type !== 'AllBlocksCleared' ? [...event.blockHashes] : [];
}

describe('KV event publisher (vLLM ZmqEventPublisher wire behaviour)', () => {
  it('binds a wildcard endpoint and sends [topic, seq 0,1,2…, payload]', async () => {
    const publisher = await openPublisher({ endpoint: 'tcp://127.0.0.1:*', dataParallelRank: 0 });
    expect(publisher.endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const sub = openSubscriber();
    sub.connect(publisher.endpoint);
    await waitUntilSubscribed(publisher, sub);

    expect(publisher.publish(batchWithHashes(10n))).toBe(0n);
    expect(publisher.publish(batchWithHashes(11n))).toBe(1n);
    expect(publisher.publish(batchWithHashes(2n ** 64n - 1n))).toBe(2n);

    const received = [await receiveLive(sub), await receiveLive(sub), await receiveLive(sub)];
    expect(received.map((r) => r.seq)).toEqual([0n, 1n, 2n]);
    expect(received.map((r) => hashesOf(r.frames[2]!))).toEqual([[10n], [11n], [2n ** 64n - 1n]]);
    // A null rank is filled with the publisher's rank, as vLLM does.
    expect(decodeEventBatch(received[0]!.frames[2]!).dataParallelRank).toBe(0);
  });

  it("accepts vLLM's default endpoint shape tcp://*:<port>", async () => {
    const port = await freePort();
    const publisher = await openPublisher({ endpoint: `tcp://*:${port}` });
    expect(publisher.endpoint).toBe(`tcp://0.0.0.0:${port}`);
    const sub = openSubscriber();
    sub.connect(`tcp://127.0.0.1:${port}`);
    await waitUntilSubscribed(publisher, sub);
    publisher.publish(batchWithHashes(42n));
    const { frames, seq } = await receiveLive(sub);
    expect(seq).toBe(0n);
    expect(hashesOf(frames[2]!)).toEqual([42n]);
  });

  it('connects when the endpoint names a host (the subscriber binds)', async () => {
    const sub = openSubscriber();
    await sub.bind('tcp://127.0.0.1:*');
    const endpoint = sub.lastEndpoint!;
    const publisher = await openPublisher({ endpoint, format: 'map' });
    expect(publisher.endpoint).toBe(endpoint);
    await waitUntilSubscribed(publisher, sub);

    for (const h of [1n, 2n, 3n]) publisher.publish(batchWithHashes(h));
    const received = [await receiveLive(sub), await receiveLive(sub), await receiveLive(sub)];
    expect(received.map((r) => r.seq)).toEqual([0n, 1n, 2n]);
    expect(received.map((r) => hashesOf(r.frames[2]!))).toEqual([[1n], [2n], [3n]]);
    // Map generation: the event is a msgpack map (0x8_) right after the events array head.
    expect(received[0]!.frames[2]![11]! & 0xf0).toBe(0x80);
  });

  it('drops a batch with a visible seq gap, and replay through a DEALER recovers it', async () => {
    const publisher = await openPublisher({
      endpoint: 'tcp://127.0.0.1:*',
      replayEndpoint: 'tcp://127.0.0.1:*',
    });
    const sub = openSubscriber();
    sub.connect(publisher.endpoint);
    await waitUntilSubscribed(publisher, sub);

    publisher.publish(batchWithHashes(100n));
    publisher.dropNextBatches(1);
    publisher.publish(batchWithHashes(101n));
    publisher.publish(batchWithHashes(102n));
    const live = [await receiveLive(sub), await receiveLive(sub)];
    expect(live.map((r) => r.seq)).toEqual([0n, 2n]);
    expect(publisher.stats.droppedByFault).toBe(1);

    const dealer = new Dealer({ receiveTimeout: 5000, linger: 0 });
    cleanup.push(() => dealer.close());
    dealer.connect(publisher.replayEndpoint!);

    // A malformed request (no delimiter frame) is ignored, as vLLM does.
    await dealer.send([Buffer.alloc(8)]);
    await dealer.send(['', Buffer.from('0000000000000001', 'hex')]);
    const replies = [await dealer.receive(), await dealer.receive(), await dealer.receive()];
    for (const reply of replies.slice(0, 2)) {
      expect(reply).toHaveLength(4);
      expect(reply[0]).toHaveLength(0);
      expect(reply[1]!.toString('utf8')).toBe(TOPIC);
    }
    expect(replies.slice(0, 2).map((r) => decodeSequence(r[2]!))).toEqual([1n, 2n]);
    expect(replies.slice(0, 2).map((r) => hashesOf(r[3]!))).toEqual([[101n], [102n]]);
    // End marker after PR #45177: ["", "", 0xFFFFFFFFFFFFFFFF, ""].
    expect(replies[2]!.map((f) => f.toString('hex'))).toEqual(['', '', END_SEQ.toString('hex'), '']);
    expect(publisher.stats.invalidReplayRequests).toBe(1);
  });

  it('keeps only bufferSteps batches for replay and forgets them on a sequence reset', async () => {
    const publisher = await openPublisher({
      endpoint: 'tcp://127.0.0.1:*',
      replayEndpoint: 'tcp://127.0.0.1:*',
      bufferSteps: 2,
    });
    const dealer = new Dealer({ receiveTimeout: 5000, linger: 0 });
    cleanup.push(() => dealer.close());
    dealer.connect(publisher.replayEndpoint!);

    const replayFrom = async (start: bigint): Promise<bigint[]> => {
      const seq = Buffer.alloc(8);
      seq.writeBigUInt64BE(start);
      await dealer.send(['', seq]);
      const seqs: bigint[] = [];
      for (;;) {
        const reply = await dealer.receive();
        const s = decodeSequence(reply[2]!)!;
        if (s === 2n ** 64n - 1n) return seqs;
        seqs.push(s);
      }
    };

    for (const h of [1n, 2n, 3n, 4n]) publisher.publish(batchWithHashes(h));
    expect(await replayFrom(0n)).toEqual([2n, 3n]);

    publisher.resetSequence();
    expect(await replayFrom(0n)).toEqual([]);
    expect(publisher.publish(batchWithHashes(5n))).toBe(0n);
    expect(await replayFrom(0n)).toEqual([0n]);
  });

  it('drops instead of blocking when the send queue is full, still consuming sequence numbers', async () => {
    const publisher = await openPublisher({ endpoint: 'tcp://127.0.0.1:*', maxQueueSize: 1 });
    const sub = openSubscriber();
    sub.connect(publisher.endpoint);
    await waitUntilSubscribed(publisher, sub);

    // One message is in flight and one waits; the other three overflow the queue.
    for (const h of [1n, 2n, 3n, 4n, 5n]) publisher.publish(batchWithHashes(h));
    expect(publisher.stats.droppedQueueFull).toBe(3);
    await publisher.flush();
    publisher.publish(batchWithHashes(6n));
    const seqs = [(await receiveLive(sub)).seq, (await receiveLive(sub)).seq, (await receiveLive(sub)).seq];
    expect(seqs).toEqual([0n, 1n, 5n]);
  });

  it('refuses to publish after close', async () => {
    const publisher = await KvEventPublisher.open({ endpoint: 'tcp://127.0.0.1:*' });
    await publisher.close();
    await publisher.close();
    expect(() => publisher.publish(batchWithHashes(1n))).toThrow(/closed/);
  });
});
