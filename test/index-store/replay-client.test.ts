import { Router } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSequence, REPLAY_END_SEQ } from '../../src/kv-protocol/sequence.ts';
import { replayFrom, ReplayError, type ReplayedBatch } from '../../src/index-store/replay-client.ts';

const EMPTY = Buffer.alloc(0);
const routers: Router[] = [];
afterEach(() => {
  for (const router of routers.splice(0)) router.close();
});

type ReplyShape = (seq: bigint, payload: Buffer) => Buffer[];

/** A replay ROUTER holding batches 0..4 that answers in the given shape (after the identity frame). */
async function replayServer(
  shape: ReplyShape,
  end: Buffer[],
): Promise<{ endpoint: string; starts: bigint[] }> {
  const router = new Router({ linger: 0 });
  routers.push(router);
  await router.bind('tcp://127.0.0.1:*');
  const starts: bigint[] = [];
  void (async () => {
    for await (const [identity, delimiter, start] of router) {
      expect(delimiter!.length).toBe(0);
      const from = start!.readBigUInt64BE(0);
      starts.push(from);
      for (let seq = from; seq < 5n; seq++)
        await router.send([identity!, ...shape(seq, Buffer.from(`batch-${seq}`))]);
      await router.send([identity!, ...end]);
    }
  })();
  return { endpoint: router.lastEndpoint!, starts };
}

async function collect(endpoint: string, start: bigint): Promise<string[]> {
  const out: ReplayedBatch[] = [];
  for await (const batch of replayFrom(endpoint, start, { idleTimeoutMs: 1000 })) out.push(batch);
  return out.map((b) => `${b.seq}:${Buffer.from(b.payload).toString()}`);
}

describe('replayFrom', () => {
  const expected = ['2:batch-2', '3:batch-3', '4:batch-4'];

  it('reads the original reply shape ["", seq, payload] ending at the all-ones sequence', async () => {
    const { endpoint, starts } = await replayServer(
      (seq, payload) => [EMPTY, encodeSequence(seq), payload],
      [EMPTY, encodeSequence(REPLAY_END_SEQ), EMPTY],
    );
    expect(await collect(endpoint, 2n)).toEqual(expected);
    expect(starts).toEqual([2n]);
  });

  it('reads the topic-framed shape ["", topic, seq, payload]', async () => {
    const { endpoint } = await replayServer(
      (seq, payload) => [EMPTY, Buffer.from('kv@p@m'), encodeSequence(seq), payload],
      [EMPTY, EMPTY, encodeSequence(REPLAY_END_SEQ), EMPTY],
    );
    expect(await collect(endpoint, 2n)).toEqual(expected);
  });

  it('reads replies without the empty delimiter, ending at an empty payload', async () => {
    const { endpoint } = await replayServer(
      (seq, payload) => [Buffer.from('kv@p@m'), encodeSequence(seq), payload],
      [Buffer.from('kv@p@m'), encodeSequence(5n), EMPTY],
    );
    expect(await collect(endpoint, 2n)).toEqual(expected);
  });

  it('fails with ReplayError when the socket does not answer', async () => {
    const router = new Router({ linger: 0 });
    routers.push(router);
    await router.bind('tcp://127.0.0.1:*');
    const replay = replayFrom(router.lastEndpoint!, 0n, { idleTimeoutMs: 200 });
    await expect(replay.next()).rejects.toBeInstanceOf(ReplayError);
  });

  it('fails with ReplayError on an unreadable reply', async () => {
    const { endpoint } = await replayServer(
      (_seq, payload) => [EMPTY, payload],
      [EMPTY, EMPTY, EMPTY, EMPTY],
    );
    await expect(collect(endpoint, 0n)).rejects.toBeInstanceOf(ReplayError);
  });
});
