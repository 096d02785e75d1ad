/**
 * Decoder tests. Tolerance inputs are built with @msgpack/msgpack (an independent encoder; with
 * `useBigInt64` it writes bigints at fixed 64-bit width, like the Go emitters).
 */
import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import {
  decodeEventBatch,
  KvEventDecodeError,
  normalizeWireHash,
} from '../../src/kv-protocol/event-decoder.ts';
import type { BlockRemoved, BlockStored, KvEvent } from '../../src/kv-protocol/events.ts';
import { big, eventExample, eventExamples, unhex, type DecodedJson } from './fixtures/reference-vectors.ts';

const pack = (value: unknown): Uint8Array => encode(value, { useBigInt64: true });

const H1 = 8960206488046808818n;
const H2 = 1076029671873789505n;
const HIGH = 0xfeedfacecafebeefn; // >= 2^63

function storedArray(extra: unknown[] = []): unknown[] {
  return ['BlockStored', [H1, H2], null, [1, 2, 3, 4], 2, null, 'GPU', null, ...extra];
}

function asStored(event: KvEvent<bigint> | undefined): BlockStored<bigint> {
  expect(event?.type).toBe('BlockStored');
  return event as BlockStored<bigint>;
}

describe('decoding the reference payloads', () => {
  it.each(eventExamples.map((e) => [e.name, e] as const))('%s', (_name, example) => {
    const decoded = decodeEventBatch(unhex(example.zmq_frames.payload_hex));
    const [ts, , rank] = example.decoded as [number, DecodedJson[], number | null];
    expect(decoded.ts).toBe(ts);
    expect(decoded.dataParallelRank).toBe(rank);
    expect(decoded.skippedUnknown + decoded.skippedMalformed).toBe(0);

    const fields = example.stored_event_fields;
    const stored = asStored(decoded.events[0]);
    const hashes = fields.block_hashes as (number | bigint | string)[];
    // Byte hashes are expected as the last 8 bytes of each digest, big-endian.
    const expectedHashes = hashes.map((h) => (typeof h === 'string' ? BigInt(`0x${h.slice(-16)}`) : big(h)));
    expect(stored.blockHashes).toEqual(expectedHashes);
    expect(stored.parentBlockHash).toBeNull();
    expect(stored.tokenIds).toEqual(fields.token_ids);
    expect(stored.blockSize).toBe(fields.block_size);
    expect(stored.loraId).toBe(fields.lora_id);
    expect(stored.medium).toBe(fields.medium);
    expect(stored.loraName).toBe(fields.lora_name);
    expect(stored.extraKeys).toEqual(fields.extra_keys);
    expect(stored.groupIdx).toBe(fields.group_idx);
    expect(stored.kvCacheSpecKind).toBe(fields.kv_cache_spec_kind);

    if (example.name !== 'array_like_bytes_hashes_no_rank') {
      expect(decoded.events).toHaveLength(3);
      const removed = decoded.events[1] as BlockRemoved<bigint>;
      expect(removed).toMatchObject({ type: 'BlockRemoved', medium: 'GPU', groupIdx: null });
      expect(removed.blockHashes).toEqual([expectedHashes[1]]);
      expect(decoded.events[2]).toEqual({ type: 'AllBlocksCleared' });
    }
  });

  it('the two int payloads (array and map generation) decode to the same events', () => {
    const a = decodeEventBatch(unhex(eventExample('array_like_int_hashes').zmq_frames.payload_hex));
    const m = decodeEventBatch(unhex(eventExample('map_int_hashes').zmq_frames.payload_hex));
    expect(m.events).toEqual(a.events);
  });
});

describe('decoder tolerance (reference §6 checklist)', () => {
  it('mixes map and array events in one batch and selects map fields by name, in any order', () => {
    const mapEvent = {
      medium: 'CPU',
      block_hashes: [HIGH],
      type: 'BlockRemoved',
      group_idx: 3,
    };
    const mapStored = {
      token_ids: [9, 9],
      type: 'BlockStored',
      block_size: 2,
      block_hashes: [7n],
      parent_block_hash: H2,
      lora_name: 'my-lora',
      extra_keys: [['my-lora']],
    };
    const out = decodeEventBatch(
      pack([1757500000.5, [storedArray(), mapEvent, mapStored, ['AllBlocksCleared']], 1]),
    );
    expect(out.events.map((e) => e.type)).toEqual([
      'BlockStored',
      'BlockRemoved',
      'BlockStored',
      'AllBlocksCleared',
    ]);
    expect(out.events[1]).toEqual({
      type: 'BlockRemoved',
      blockHashes: [HIGH],
      medium: 'CPU',
      groupIdx: 3,
      locality: null,
    });
    const stored = asStored(out.events[2]);
    expect(stored).toMatchObject({
      blockHashes: [7n],
      parentBlockHash: H2,
      tokenIds: [9, 9],
      blockSize: 2,
      loraId: null,
      medium: null,
      loraName: 'my-lora',
      extraKeys: [['my-lora']],
    });
    expect(out.dataParallelRank).toBe(1);
  });

  it('reads positional events of every vLLM length and ignores extra trailing fields', () => {
    const v090 = ['BlockStored', [H1], null, [1, 2], 2, null]; // 6 elements, first release
    const newest = storedArray([
      [null, null],
      0,
      'sliding_window',
      4096,
      'LOCAL',
      'future',
      { x: 1 },
      [1, 2],
    ]);
    const removedOld = ['BlockRemoved', [H1]];
    const removedNew = ['BlockRemoved', [H2], 'STORAGE', 2, 'REMOTE', 'future-field'];
    const out = decodeEventBatch(pack([0.5, [v090, newest, removedOld, removedNew], 0]));
    expect(out.skippedMalformed).toBe(0);
    expect(asStored(out.events[0])).toMatchObject({
      blockHashes: [H1],
      medium: null,
      loraName: null,
      extraKeys: null,
    });
    expect(asStored(out.events[1])).toMatchObject({
      extraKeys: [null, null],
      groupIdx: 0,
      kvCacheSpecKind: 'sliding_window',
      kvCacheSpecSlidingWindow: 4096,
      locality: 'LOCAL',
    });
    expect(out.events[2]).toMatchObject({ blockHashes: [H1], medium: null, groupIdx: null });
    expect(out.events[3]).toMatchObject({
      blockHashes: [H2],
      medium: 'STORAGE',
      groupIdx: 2,
      locality: 'REMOTE',
    });
  });

  it('skips an unknown tag in the middle of a batch and keeps the rest', () => {
    const out = decodeEventBatch(
      pack([
        0.5,
        [storedArray(), ['BlockPinned', [1n], 'GPU'], { type: 'SessionEnded' }, ['AllBlocksCleared']],
        0,
      ]),
    );
    expect(out.skippedUnknown).toBe(2);
    expect(out.events.map((e) => e.type)).toEqual(['BlockStored', 'AllBlocksCleared']);
  });

  it('skips (and counts) an event with malformed known fields, keeping the rest', () => {
    const badHashes = ['BlockStored', 'not-a-list', null, [1, 2], 2, null, 'GPU', null];
    const missingTokens = ['BlockStored', [H1], null];
    const badMedium = { type: 'BlockRemoved', block_hashes: [H1], medium: 5 };
    const notAnEvent = 42;
    const out = decodeEventBatch(
      pack([0.5, [badHashes, missingTokens, badMedium, notAnEvent, storedArray()], 0]),
    );
    expect(out.skippedMalformed).toBe(4);
    expect(out.events).toHaveLength(1);
  });

  it('normalizes hashes: any uint width, negative ints (two’s complement), short and long bin', () => {
    const hashes = [
      7, // fixint
      0xcafe, // uint16
      7n, // fixed-width uint64 (cf 00..07)
      HIGH, // uint64 >= 2^63
      -1n, // int64 -1 -> 2^64-1
      -(2n ** 63n), // int64 min -> 2^63
      -5, // negative fixint
      unhex('0102'), // short bin: left-pad
      unhex('11'.repeat(56) + '0102030405060708'), // 64-byte concatenated digests: last 8 bytes
    ];
    const out = decodeEventBatch(pack([0.5, [['BlockRemoved', hashes, 'GPU']]]));
    expect((out.events[0] as BlockRemoved<bigint>).blockHashes).toEqual([
      7n,
      0xcafen,
      7n,
      HIGH,
      2n ** 64n - 1n,
      2n ** 63n,
      2n ** 64n - 5n,
      0x0102n,
      0x0102030405060708n,
    ]);
  });

  it('treats parent_block_hash nil or 0 as none', () => {
    const zeroParent = ['BlockStored', [H1], 0, [1, 2], 2, null, 'GPU', null];
    const out = decodeEventBatch(pack([0.5, [zeroParent, storedArray()], 0]));
    expect(asStored(out.events[0]).parentBlockHash).toBeNull();
    expect(asStored(out.events[1]).parentBlockHash).toBeNull();
  });

  it('accepts a 2-element batch (v0.9.0) and an integral ts', () => {
    const out = decodeEventBatch(pack([1757500000, [storedArray()]]));
    expect(out.ts).toBe(1757500000);
    expect(out.dataParallelRank).toBeNull();
    expect(out.events).toHaveLength(1);
  });

  it('reads extra_keys leniently: tuples, bin digests, unknown item shapes dropped', () => {
    const extra = [
      ['lora', ['img', -11], unhex('abcd')],
      null,
      [{ modality: 'image', hash: 'x' }, 'salt'],
      'not-a-tuple',
    ];
    const out = decodeEventBatch(pack([0.5, [storedArray([extra])], 0]));
    expect(asStored(out.events[0]).extraKeys).toEqual([
      ['lora', ['img', -11], unhex('abcd')],
      null,
      ['salt'],
      null,
    ]);
  });

  it('handles an empty-token offload placeholder', () => {
    const placeholder = ['BlockStored', [H1, H2], null, [], 0, null, 'CPU', null];
    const out = decodeEventBatch(pack([0.5, [placeholder], 0]));
    expect(asStored(out.events[0])).toMatchObject({ tokenIds: [], blockSize: 0, medium: 'CPU' });
  });
});

describe('malformed payloads throw KvEventDecodeError', () => {
  const valid = unhex(eventExample('array_like_int_hashes').zmq_frames.payload_hex);
  const cases: [string, Uint8Array][] = [
    ['empty payload', new Uint8Array()],
    ['not an array', pack({ ts: 1, events: [] })],
    ['1-element batch', pack([0.5])],
    ['ts not a number', pack(['x', []])],
    ['events not an array', pack([0.5, 'x'])],
    ['truncated', valid.subarray(0, valid.length - 1)],
    ['trailing bytes', Uint8Array.from([...valid, 0x00])],
    ['invalid type byte', Uint8Array.from([0x92, 0xc1, 0x90])],
    ['array larger than the payload', unhex('dd7fffffff00')],
    ['nesting too deep', new Uint8Array(100_000).fill(0x91)],
  ];
  it.each(cases)('%s', (_name, payload) => {
    expect(() => decodeEventBatch(payload)).toThrow(KvEventDecodeError);
  });
});

describe('normalizeWireHash', () => {
  it('rejects what cannot be a hash', () => {
    expect(normalizeWireHash(new Uint8Array())).toBeUndefined();
    expect(normalizeWireHash(1.5)).toBeUndefined();
    expect(normalizeWireHash('abc')).toBeUndefined();
    expect(normalizeWireHash(null)).toBeUndefined();
  });
});
