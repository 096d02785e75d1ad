/**
 * Client for vLLM's KV-event replay socket (shared reference `kv-events-and-hashing.md` §1.4).
 *
 * A fresh DEALER per request (so a late reply to an abandoned request can never be mistaken for
 * this one's) sends `["", u64be(start)]`. Replies, one per buffered batch from `start` on, come in
 * either generation, with or without a leading empty delimiter:
 * `["", seq, payload]` (original) or `["", topic, seq, payload]` (vLLM #45177 and later). The stream
 * ends with sequence 0xFFFFFFFFFFFFFFFF and/or an empty payload.
 */
import { Dealer } from 'zeromq';
import { decodeSequence, encodeSequence, REPLAY_END_SEQ } from '../kv-protocol/sequence.ts';

export interface ReplayTimeouts {
  /** Longest wait for the next reply. Default 2000 ms (llm-d's per-attempt idle timeout). */
  readonly idleTimeoutMs?: number;
  /** Longest whole replay. Default 120 000 ms (llm-d's). */
  readonly totalTimeoutMs?: number;
}

export interface ReplayedBatch {
  readonly seq: bigint;
  readonly payload: Uint8Array;
}

export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplayError';
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Streams the batches a replay socket holds from `start` on, in the order received, until the end
 * marker.
 *
 * @throws {ReplayError} on a timeout, an unreadable reply, or when `signal` aborts.
 */
export async function* replayFrom(
  endpoint: string,
  start: bigint,
  timeouts: ReplayTimeouts = {},
  signal?: AbortSignal,
): AsyncGenerator<ReplayedBatch, void, undefined> {
  const idle = timeouts.idleTimeoutMs ?? 2000;
  const deadline = Date.now() + (timeouts.totalTimeoutMs ?? 120_000);
  const dealer = new Dealer({ linger: 0, sendTimeout: idle });
  const abort = (): void => {
    if (!dealer.closed) dealer.close();
  };
  signal?.addEventListener('abort', abort, { once: true });
  try {
    if (signal?.aborted) throw new ReplayError('replay aborted');
    dealer.connect(endpoint);
    await dealer.send([EMPTY, encodeSequence(start)]);
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new ReplayError(`replay from ${endpoint} exceeded its total timeout`);
      dealer.receiveTimeout = Math.min(idle, remaining);
      let frames: Buffer[];
      try {
        frames = await dealer.receive();
      } catch (err) {
        if (signal?.aborted) throw new ReplayError('replay aborted');
        throw new ReplayError(`no replay reply from ${endpoint}: ${(err as Error).message}`);
      }
      if (frames.length >= 3 && frames[0]!.length === 0) frames = frames.slice(1);
      let seqFrame: Buffer | undefined;
      let payload: Buffer | undefined;
      if (frames.length === 3) [, seqFrame, payload] = frames;
      else if (frames.length === 2) [seqFrame, payload] = frames;
      const seq = seqFrame ? decodeSequence(seqFrame) : null;
      if (seq === null || payload === undefined) {
        throw new ReplayError(`unreadable replay reply from ${endpoint} (${frames.length} frames)`);
      }
      if (seq === REPLAY_END_SEQ || payload.length === 0) return;
      yield { seq, payload };
    }
  } finally {
    signal?.removeEventListener('abort', abort);
    abort();
  }
}
