/**
 * A cheap chained block hash for simulated engines: XXH3-128 of (parent digest ‖ token ids as
 * little-endian u32 ‖ extra keys). vLLM's real `sha256_cbor` costs ~10× more per block and buys
 * nothing here: the router never sees engine hashes except as opaque ids to pair `BlockRemoved`
 * with `BlockStored` (its own block keys come from token ids), so the engine only needs a chained,
 * collision-free digest. 128 bits keep accidental collisions out of reach at any benchmark size.
 * Not vLLM-compatible by design; do not use it where vLLM's hashes must be reproduced.
 */
import { xxh3 } from '@node-rs/xxhash';
import type { BlockHashFn } from '../../src/sim/engine/types.ts';

const DIGEST_BYTES = 16;
let scratch = Buffer.allocUnsafe(DIGEST_BYTES + 4 * 1024);

function extraKeyBytes(extraKeys: NonNullable<Parameters<BlockHashFn>[2]>): Buffer {
  const json = JSON.stringify(extraKeys, (_key, value: unknown) =>
    value instanceof Uint8Array ? Array.from(value) : value,
  );
  return Buffer.from(json, 'utf8');
}

export const xxh3ChainedBlockHash: BlockHashFn = (parent, tokens, extraKeys) => {
  const extra = extraKeys ? extraKeyBytes(extraKeys) : null;
  const size = DIGEST_BYTES + 4 * tokens.length + (extra?.length ?? 0);
  if (scratch.length < size) scratch = Buffer.allocUnsafe(size * 2);
  if (parent) scratch.set(parent.subarray(0, DIGEST_BYTES), 0);
  else scratch.fill(0, 0, DIGEST_BYTES);
  let offset = DIGEST_BYTES;
  for (let i = 0; i < tokens.length; i++, offset += 4)
    scratch.writeUInt32LE((tokens[i] as number) >>> 0, offset);
  if (extra) scratch.set(extra, offset);
  let digest = xxh3.xxh128(scratch.subarray(0, size));
  const out = new Uint8Array(DIGEST_BYTES);
  for (let i = DIGEST_BYTES - 1; i >= 0; i--) {
    out[i] = Number(digest & 0xffn);
    digest >>= 8n;
  }
  return out;
};
