import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pickleDumps, VllmPickler, type PickleValue } from '../../src/kv-protocol/pickle.ts';
import { blockHashVectors, hex, unhex } from './fixtures/reference-vectors.ts';

const { vllm } = blockHashVectors;

/** bytes(range(32)) in Python. */
const P = Uint8Array.from({ length: 32 }, (_, i) => i);
const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('pickle protocol 5: reference vectors', () => {
  it.each(Object.entries(vllm.seeds))('PYTHONHASHSEED "%s" pickles like CPython', (seed, v) => {
    expect(hex(pickleDumps(seed))).toBe(v.pickle_of_seed_hex);
    expect(hex(new VllmPickler().dump(seed))).toBe(v.pickle_of_seed_hex);
  });

  const cases = vllm.cases.filter((c) => c.first_block_hash_input_pickle_hex !== undefined);
  it.each(cases.map((c) => [c.id, c] as const))('%s: first block hash input', (_id, c) => {
    const extra = c.extra_keys_per_block?.[0] ?? null;
    const parent = unhex(c.none_hash_hex);
    expect(hex(pickleDumps([parent, c.token_ids.slice(0, c.block_size), extra]))).toBe(
      c.first_block_hash_input_pickle_hex,
    );
    const pickler = new VllmPickler();
    const direct = pickler.dumpBlockHashInput(parent, c.token_ids, 0, c.block_size, extra);
    expect(hex(direct)).toBe(c.first_block_hash_input_pickle_hex);
  });
});

/**
 * Expected bytes below were produced by CPython 3.11 `pickle.dumps(value, protocol=5)` (the C
 * pickler vLLM uses) for the Python value shown in each comment; P = bytes(range(32)). Strings that
 * appear twice were built at runtime (e.g. ''.join(['a','b'])) so only CPython's singleton strings
 * share identity.
 */
describe('pickle protocol 5: CPython edge cases', () => {
  it('int opcodes: BININT1/2, BININT and LONG1 with sign-byte trimming', () => {
    // (P, (2**31, 2**31-1, -2**31, -2**31-1, -2**39, -2**40, 2**53-1, -(2**53-1), 65535, 65536, 255, 256, 0), None)
    const tokens = [2 ** 31, 2 ** 31 - 1, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 39), -(2 ** 40)];
    tokens.push(2 ** 53 - 1, -(2 ** 53 - 1), 65535, 65536, 255, 256, 0);
    expect(hex(pickleDumps([P, tokens, null]))).toBe(
      '80059572000000000000004320000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f94288a05000000' +
        '80004affffff7f4a000000808a05ffffff7fff8a0500000000808a060000000000ff8a07ffffffffffff1f8a07010000000000e0' +
        '4dffff4a000001004bff4d00014b0074944e87942e',
    );
  });

  it('memoizes singleton strings ("" and one char < U+0100) as BINGET, other repeats as new strings', () => {
    // (P, (1, 2, 3), ('a', 'a', '', '', 'é', 'é', 'ab', 'ab'))
    expect(hex(pickleDumps([P, [1, 2, 3], ['a', 'a', '', '', 'é', 'é', 'ab', 'ab']]))).toBe(
      '8005954d000000000000004320000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f944b014b024b0387' +
        '94288c01619468028c009468038c02c3a99468048c026162948c02616294749487942e',
    );
  });

  it('uses LONG_BINGET past memo index 255', () => {
    // (P, (1,), tuple('n%d' % i for i in range(300)) + ('q', 'q'))
    const extra: PickleValue[] = range(0, 300).map((i) => `n${i}`);
    extra.push('q', 'q');
    const out = pickleDumps([P, [1], extra]);
    expect(out.length).toBe(2055);
    expect(hex(out.subarray(-20))).toBe('046e323939948c0171946a2e010000749487942e');
    expect(sha256(out)).toBe('8837186f113e8e576f6e208011050c52731d4db0856adad54ec0c9d50e941d67');
  });

  it('extra keys with MARK tuples, nested (id, offset) tuples and bytes', () => {
    // (P, (7,), ('lora', ('img', -3), b'\x09' * 32, 'salt'))
    const value: PickleValue = [P, [7], ['lora', ['img', -3], new Uint8Array(32).fill(9), 'salt']];
    expect(hex(pickleDumps(value))).toBe(
      '8005956b000000000000004320000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f944b078594288c04' +
        '6c6f7261948c03696d67944afdffffff869443200909090909090909090909090909090909090909090909090909090909090909948c' +
        '0473616c7494749487942e',
    );
  });

  it('empty and two-element tuples', () => {
    // (P, (), ())
    expect(hex(pickleDumps([P, [], []]))).toBe(
      '80059528000000000000004320000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f94292987942e',
    );
    // (P, (5, 6), ('x', 'y'))
    expect(hex(pickleDumps([P, [5, 6], ['x', 'y']]))).toBe(
      '80059536000000000000004320000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f944b054b0686948c' +
        '0178948c017994869487942e',
    );
  });

  it('BINUNICODE / BINBYTES for payloads of 256 bytes and more', () => {
    // (P, (1, 2), ('x' * 300, b'\x01' * 300))
    const out = pickleDumps([P, [1, 2], ['x'.repeat(300), new Uint8Array(300).fill(1)]]);
    const expected =
      '80059592020000000000004320000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f944b014b028694582c0100' +
      '00' +
      '78'.repeat(300) +
      '94422c010000' +
      '01'.repeat(300) +
      '94869487942e';
    expect(hex(out)).toBe(expected);
  });

  // (P, tuple(range(300, 300 + n)), None): frames split before the next save() once a frame holds 64 KiB.
  it.each([
    [21832, 65549, 'a37272a93d9e4156cc96505c8965a2657534540bbcf63c4048b1659f19ef216e'],
    [21833, 65561, 'a332b408a592f5c3050495094b5e794c2d6f3e7cedb41d08b5932c66b7da6ac3'],
    [21834, 65564, 'be874c891ee85283d32243cc312d25867ecc3034227f8fd8a8696eb2e2e3ba91'],
    [30000, 90062, 'cd1dfe1dba5c4254b9284c0f626eecbfbf52e63a01477ee593f10810c087a892'],
  ])('multi-frame output for %i tokens', (n, length, digest) => {
    const tokens = range(300, n);
    const generic = pickleDumps([P, tokens, null]);
    expect(generic.length).toBe(length);
    expect(sha256(generic)).toBe(digest);
    const direct = new VllmPickler(64).dumpBlockHashInput(P, tokens, 0, n, null);
    expect(sha256(direct)).toBe(digest);
  });

  it('writes str and bytes payloads of 64 KiB or more outside any frame', () => {
    // (P, tuple([5] * 40000), ('a' * 70000,))
    const bigStr = pickleDumps([P, new Array<number>(40000).fill(5), ['a'.repeat(70000)]]);
    expect(bigStr.length).toBe(150078);
    expect(sha256(bigStr)).toBe('639bc3ea467c9cf7e82fe219f8f3c2e89f0ba3591553fc197de4e07fbb58f9d3');
    // (P, (1, 2), (b'\x07' * 70000,))
    const bigBytes = pickleDumps([P, [1, 2], [new Uint8Array(70000).fill(7)]]);
    expect(bigBytes.length).toBe(70072);
    expect(sha256(bigBytes)).toBe('3e7f8e619451e89b4d34b1a9de35af87bb620e2550f9d5cc7d21d4e7f15621e6');
  });

  it('a reused pickler gives the same bytes every time', () => {
    const pickler = new VllmPickler();
    const tokens = range(1, 16);
    const a = hex(pickler.dumpBlockHashInput(P, tokens, 0, 16, ['lora']));
    pickler.dump('other');
    expect(hex(pickler.dumpBlockHashInput(P, tokens, 0, 16, ['lora']))).toBe(a);
  });
});
