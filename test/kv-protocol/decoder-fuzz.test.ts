/**
 * Property tests: the decoder either returns or throws KvEventDecodeError on any input (random
 * bytes, truncations and byte flips of valid payloads), and decode(encode(batch)) is the identity on
 * normalized batches.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEventBatch, KvEventDecodeError } from '../../src/kv-protocol/event-decoder.ts';
import { encodeEventBatch } from '../../src/kv-protocol/event-encoder.ts';
import type { BlockExtraKeys, KvEvent, KvEventBatch } from '../../src/kv-protocol/events.ts';
import { eventExamples, unhex } from './fixtures/reference-vectors.ts';

/** Runs the decoder and fails the property on any error other than KvEventDecodeError. */
function decodeOrTypedError(payload: Uint8Array): void {
  try {
    decodeEventBatch(payload);
  } catch (err) {
    if (!(err instanceof KvEventDecodeError)) throw err;
  }
}

const validPayloads = eventExamples.map((e) => unhex(e.zmq_frames.payload_hex));

describe('decoder fuzzing', () => {
  it('random bytes never escape as anything but KvEventDecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => decodeOrTypedError(bytes)),
      { numRuns: 3000 },
    );
  });

  it('random bytes behind a plausible batch prefix reach the event decoding', () => {
    // 93 cb <8 bytes> = [ts, …] header, so the fuzz exercises events and fields, not just the root.
    const prefix = unhex('93cb41da305498100000');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (tail) =>
        decodeOrTypedError(Uint8Array.from([...prefix, ...tail])),
      ),
      { numRuns: 3000 },
    );
  });

  it('every truncation of a valid payload throws KvEventDecodeError', () => {
    for (const payload of validPayloads) {
      for (let n = 0; n < payload.length; n++) {
        expect(() => decodeEventBatch(payload.subarray(0, n))).toThrow(KvEventDecodeError);
      }
    }
  });

  it('byte flips in valid payloads never escape as other errors', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...validPayloads),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (payload, flips) => {
          const mutated = Uint8Array.from(payload);
          for (const [at, value] of flips) mutated[at % mutated.length] = value;
          decodeOrTypedError(mutated);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const str = fc.string({ unit: 'grapheme', maxLength: 40 });
const optStr = fc.option(str, { nil: null });
const optInt = fc.option(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), { nil: null });
const extraKey = fc.oneof(
  str,
  fc.tuple(str, fc.integer({ min: -100_000, max: 100_000 })),
  fc.uint8Array({ maxLength: 40 }),
);
const blockExtra: fc.Arbitrary<BlockExtraKeys> = fc.option(fc.array(extraKey, { maxLength: 4 }), {
  nil: null,
});

const storedEvent = fc.record({
  type: fc.constant('BlockStored' as const),
  blockHashes: fc.array(u64, { maxLength: 5 }),
  parentBlockHash: fc.option(fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), { nil: null }),
  tokenIds: fc.array(fc.nat({ max: 2 ** 32 - 1 }), { maxLength: 40 }),
  blockSize: fc.nat({ max: 1024 }),
  loraId: optInt,
  medium: optStr,
  loraName: optStr,
  extraKeys: fc.option(fc.array(blockExtra, { maxLength: 5 }), { nil: null }),
  groupIdx: optInt,
  kvCacheSpecKind: optStr,
  kvCacheSpecSlidingWindow: optInt,
  locality: optStr,
});
const removedEvent = fc.record({
  type: fc.constant('BlockRemoved' as const),
  blockHashes: fc.array(u64, { maxLength: 5 }),
  medium: optStr,
  groupIdx: optInt,
  locality: optStr,
});
const event: fc.Arbitrary<KvEvent<bigint>> = fc.oneof(
  storedEvent,
  removedEvent,
  fc.constant({ type: 'AllBlocksCleared' as const }),
);
const batch: fc.Arbitrary<KvEventBatch<bigint>> = fc.record({
  ts: fc.double({ noNaN: true }),
  events: fc.array(event, { maxLength: 6 }),
  dataParallelRank: fc.option(fc.nat({ max: 64 }), { nil: null }),
});

describe('encode/decode round trip', () => {
  it.each(['array', 'map'] as const)('%s format preserves every field', (format) => {
    fc.assert(
      fc.property(batch, (b) => {
        const payload = encodeEventBatch(b, { format, arrayFieldSet: 'locality' });
        const decoded = decodeEventBatch(payload);
        expect(decoded.skippedMalformed + decoded.skippedUnknown).toBe(0);
        expect(decoded.ts).toBe(b.ts);
        expect(decoded.dataParallelRank).toBe(b.dataParallelRank);
        expect(decoded.events).toEqual(b.events);
      }),
      { numRuns: 300 },
    );
  });
});
