import { describe, expect, it } from 'vitest';
import {
  encodeEventBatch,
  encodeSequence,
  KvEventEncoder,
  type ArrayFieldSet,
} from '../../src/kv-protocol/event-encoder.ts';
import type { BlockRemoved, BlockStored, KvEventBatch } from '../../src/kv-protocol/events.ts';
import { big, eventExample, hex, unhex, type DecodedJson } from './fixtures/reference-vectors.ts';

/** Rebuilds the in-memory BlockStored from a vector's `stored_event_fields` (hashes as given). */
function storedFrom(fields: Record<string, DecodedJson>, asBytes: boolean): BlockStored {
  const hashes = fields.block_hashes as (number | bigint | string)[];
  return {
    type: 'BlockStored',
    blockHashes: hashes.map((h) => (asBytes ? unhex(h as string) : big(h as number | bigint))),
    parentBlockHash: null,
    tokenIds: fields.token_ids as number[],
    blockSize: fields.block_size as number,
    loraId: null,
    medium: fields.medium as string,
    loraName: null,
    extraKeys: fields.extra_keys as null[] | null,
    groupIdx: fields.group_idx as number | null,
    kvCacheSpecKind: fields.kv_cache_spec_kind as string | null,
  };
}

const intExample = eventExample('array_like_int_hashes');
const stored = storedFrom(intExample.stored_event_fields, false);
// The vectors remove the second stored block (see gen_vectors.py build_event_examples).
const removed: BlockRemoved = { type: 'BlockRemoved', blockHashes: [stored.blockHashes[1]!], medium: 'GPU' };
const batch: KvEventBatch = {
  ts: 1757500000.25,
  events: [stored, removed, { type: 'AllBlocksCleared' }],
  dataParallelRank: 0,
};

describe('KV event encoder: byte-identical to the reference payloads', () => {
  it('array_like_int_hashes (default options)', () => {
    expect(hex(encodeEventBatch(batch))).toBe(intExample.zmq_frames.payload_hex);
  });

  it('map_int_hashes', () => {
    expect(hex(encodeEventBatch(batch, { format: 'map' }))).toBe(
      eventExample('map_int_hashes').zmq_frames.payload_hex,
    );
  });

  it('array_like_bytes_hashes_no_rank', () => {
    const example = eventExample('array_like_bytes_hashes_no_rank');
    const bytesStored = storedFrom(example.stored_event_fields, true);
    const payload = encodeEventBatch(
      { ts: 1757500000.25, events: [bytesStored], dataParallelRank: null },
      { hashType: 'bytes' },
    );
    expect(hex(payload)).toBe(example.zmq_frames.payload_hex);
  });

  it('turns digests into the event int (last 8 bytes) under the default int hash type', () => {
    const example = eventExample('array_like_bytes_hashes_no_rank');
    const fromDigests = storedFrom(example.stored_event_fields, true);
    const fromInts = { ...fromDigests, blockHashes: stored.blockHashes };
    expect(hex(encodeEventBatch({ ...batch, events: [fromDigests] }))).toBe(
      hex(encodeEventBatch({ ...batch, events: [fromInts] })),
    );
  });

  it('encodes the sequence frame as 8 bytes big-endian', () => {
    expect(hex(encodeSequence(7n))).toBe(intExample.zmq_frames.seq_hex);
    expect(hex(encodeSequence(0n))).toBe('0000000000000000');
    expect(hex(encodeSequence(2n ** 64n - 1n))).toBe('ffffffffffffffff');
    expect(() => encodeSequence(-1n)).toThrow(RangeError);
  });

  it('a reused encoder returns independent buffers', () => {
    const encoder = new KvEventEncoder();
    const a = encoder.encode(batch);
    const b = encoder.encode({ ...batch, events: [] });
    expect(hex(a)).toBe(intExample.zmq_frames.payload_hex);
    expect(hex(b)).toBe('93cb41da30549810000090' + '00');
  });
});

describe('KV event encoder: positional field sets per vLLM version (reference §2.3)', () => {
  // Array lengths from the reference table: BlockStored 6/7/8/9/10/12(/13), BlockRemoved 2/3/4(/5).
  const table: [ArrayFieldSet, number, number, number][] = [
    ['initial', 6, 2, 2],
    ['medium', 7, 3, 3],
    ['lora_name', 8, 3, 3],
    ['extra_keys', 9, 3, 3],
    ['group_idx', 10, 4, 3],
    ['kv_cache_spec', 12, 4, 3],
    ['locality', 13, 5, 3],
  ];
  it.each(table)(
    '%s: BlockStored %i, BlockRemoved %i, batch %i',
    (fieldSet, storedLen, removedLen, batchLen) => {
      const small: BlockStored = {
        ...stored,
        tokenIds: [1, 2],
        blockSize: 1,
        blockHashes: [1n, 2n],
        extraKeys: null,
      };
      const smallRemoved: BlockRemoved = { ...removed, blockHashes: [2n] };
      const out = encodeEventBatch(
        { ts: 1, events: [small, smallRemoved], dataParallelRank: 0 },
        { arrayFieldSet: fieldSet },
      );
      // [batch head][cb + 8][92 events head][stored head]...
      expect(out[0]).toBe(0x90 | batchLen);
      expect(out[10]).toBe(0x92);
      expect(out[11]).toBe(0x90 | storedLen);
      const storedBytes = hex(out.subarray(11));
      const removedAt = storedBytes.indexOf('ac' + Buffer.from('BlockRemoved').toString('hex')) / 2;
      expect(out[11 + removedAt - 1]).toBe(0x90 | removedLen);
    },
  );
});

describe('KV event encoder: msgspec scalar forms (reference §2.1)', () => {
  it('ts is always float64, even for a whole number of seconds', () => {
    expect(hex(encodeEventBatch({ ts: 1, events: [], dataParallelRank: 0 }))).toBe(
      '93cb3ff00000000000009000',
    );
  });

  it('hashes take the smallest int form, cf at and above 2^63', () => {
    const hashes = [0n, 127n, 128n, 65535n, 65536n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n];
    const out = encodeEventBatch({
      ts: 0,
      events: [{ type: 'BlockRemoved', blockHashes: hashes, medium: null }],
      dataParallelRank: null,
    });
    const expectedHashes =
      '00' +
      '7f' +
      'cc80' +
      'cdffff' +
      'ce00010000' +
      'cf0000000100000000' +
      'cf8000000000000000' +
      'cfffffffffffffffff';
    expect(hex(out)).toBe(
      '93cb0000000000000000' +
        '91' +
        '94' +
        'ac' +
        Buffer.from('BlockRemoved').toString('hex') +
        '98' +
        expectedHashes +
        'c0' +
        'c0' +
        'c0',
    );
  });

  it('extra keys: strings, (id, negative offset) pairs and bytes; map form omits defaulted None fields', () => {
    const event: BlockStored = {
      ...stored,
      tokenIds: [1],
      blockSize: 1,
      blockHashes: [5n],
      loraName: 'a',
      extraKeys: [['a', ['img', -11], unhex('0102')]],
      groupIdx: null,
      kvCacheSpecKind: null,
    };
    const out = hex(encodeEventBatch({ ts: 0, events: [event], dataParallelRank: 0 }, { format: 'map' }));
    const s = (text: string) => (0xa0 | text.length).toString(16) + Buffer.from(text).toString('hex');
    expect(out).toBe(
      '93cb0000000000000000' +
        '91' +
        '89' + // 9 keys: type + 7 required + extra_keys
        s('type') +
        s('BlockStored') +
        s('block_hashes') +
        '9105' +
        s('parent_block_hash') +
        'c0' +
        s('token_ids') +
        '9101' +
        s('block_size') +
        '01' +
        s('lora_id') +
        'c0' +
        s('medium') +
        s('GPU') +
        s('lora_name') +
        s('a') +
        s('extra_keys') +
        '91' +
        '93' +
        s('a') +
        '92' +
        s('img') +
        'f5' +
        'c4020102' +
        '00',
    );
  });

  it('a bigint hash written as bytes becomes its 8-byte big-endian bin', () => {
    const out = encodeEventBatch(
      {
        ts: 0,
        events: [{ type: 'BlockRemoved', blockHashes: [0x0102n], medium: null }],
        dataParallelRank: 0,
      },
      { hashType: 'bytes' },
    );
    expect(hex(out)).toContain('91c4080000000000000102');
  });
});
