import { describe, expect, it } from 'vitest';
import { CborWriter, encodeCbor, type CborValue } from '../../src/kv-protocol/cbor.ts';
import { big, blockHashVectors, hex, unhex } from './fixtures/reference-vectors.ts';

const { vllm, llm_d } = blockHashVectors;

describe('canonical CBOR: RFC 8949 Appendix A examples', () => {
  const cases: [CborValue, string][] = [
    [0, '00'],
    [1, '01'],
    [10, '0a'],
    [23, '17'],
    [24, '1818'],
    [25, '1819'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [18446744073709551615n, '1bffffffffffffffff'],
    [-18446744073709551616n, '3bffffffffffffffff'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    [new Uint8Array(), '40'],
    [unhex('01020304'), '4401020304'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['"\\', '62225c'],
    ['\u00fc', '62c3bc'],
    ['\u6c34', '63e6b0b4'],
    ['\ud800\udd51', '64f0908591'],
    [[], '80'],
    [[1, 2, 3], '83010203'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [
      Array.from({ length: 25 }, (_, i) => i + 1),
      '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
    ],
    [{}, 'a0'],
    [
      new Map([
        [1, 2],
        [3, 4],
      ]),
      'a201020304',
    ],
    [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
    [['a', { b: 'c' }], '826161a161626163'],
  ];
  it.each(cases.map(([value, expected]) => [expected, value] as const))(
    'encodes to %s',
    (expected, value) => {
      expect(hex(encodeCbor(value))).toBe(expected);
    },
  );

  it('orders map keys length-first then bytewise (RFC 8949 §4.2.3 example)', () => {
    // The RFC lists these keys in correct order: 10, -1, false, 100, "z", [-1], "aa", [100].
    const scrambled = new Map<CborValue, CborValue>([
      [[100], 8],
      ['aa', 7],
      [100, 4],
      [false, 3],
      [[-1], 6],
      [10, 1],
      ['z', 5],
      [-1, 2],
    ]);
    expect(hex(encodeCbor(scrambled))).toBe(
      'a8' + '0a01' + '2002' + 'f403' + '186404' + '617a05' + '812006' + '62616107' + '81186408',
    );
  });

  it('rejects what canonical CBOR for these hashes cannot carry', () => {
    expect(() => encodeCbor(1.5)).toThrow(RangeError);
    expect(() => encodeCbor(2 ** 64)).toThrow(RangeError);
    expect(() => encodeCbor(1n << 64n)).toThrow(RangeError);
    expect(() => encodeCbor(-(1n << 64n) - 1n)).toThrow(RangeError);
    expect(() =>
      encodeCbor(
        new Map<CborValue, CborValue>([
          [[1], 1],
          [[1], 2],
        ]),
      ),
    ).toThrow(/duplicate/);
  });
});

describe('canonical CBOR: reference vectors', () => {
  it.each(Object.entries(vllm.seeds))('PYTHONHASHSEED "%s" encodes as a text string', (seed, v) => {
    expect(hex(encodeCbor(seed))).toBe(v.cbor_of_seed_hex);
  });

  const cborCases = vllm.cases.filter((c) => c.first_block_hash_input_cbor_hex !== undefined);
  it.each(cborCases.map((c) => [c.id, c] as const))('%s: first block hash input', (_id, c) => {
    const extra = c.extra_keys_per_block?.[0] ?? null;
    const input: CborValue = [unhex(c.none_hash_hex), c.token_ids.slice(0, c.block_size), extra];
    expect(hex(encodeCbor(input))).toBe(c.first_block_hash_input_cbor_hex);
  });

  const fnvCases = llm_d.filter((c) => c.root_input_cbor_hex !== undefined);
  it.each(fnvCases.map((c) => [c.id, c] as const))('%s: uint64 root and {"Hash"} map inputs', (_id, c) => {
    expect(hex(encodeCbor([big(c.init_hash), null, c.modelName]))).toBe(c.root_input_cbor_hex);
    const strings = c.extra_strings_per_block?.[0] ?? null;
    const extra = strings === null ? null : strings.map((s) => ({ Hash: s }));
    const input: CborValue = [big(c.model_root_hash), c.token_ids.slice(0, c.blockSizeTokens), extra];
    expect(hex(encodeCbor(input))).toBe(c.first_block_input_cbor_hex);
  });
});

describe('CborWriter reuse', () => {
  it('produces identical bytes after reset and grows past its initial capacity', () => {
    const writer = new CborWriter(16);
    const tokens = Array.from({ length: 5000 }, (_, i) => i * 977);
    writer.writeValue(tokens);
    const first = hex(writer.toBytes());
    writer.reset();
    writer.writeArrayHeader(tokens.length);
    for (const t of tokens) writer.writeInt(t);
    expect(hex(writer.bytes())).toBe(first);
    // array(5000) head is 19 1388; spot-check a 4-byte int (977 * 4999 = 4884023 -> 1a 004a8637).
    expect(first.startsWith('991388')).toBe(true);
    expect(first.endsWith('1a004a8637')).toBe(true);
  });
});
