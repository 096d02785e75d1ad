/**
 * A pod's index state as stored in Redis (three hashes: meta, blocks, engine), read atomically,
 * its packed write form, and its replay into a local index.
 *
 * Reading all three in one script gives a consistent cut: `meta.version` is exactly the number of
 * changes the blocks and engine hashes contain, so a mirror that loads the snapshot and then skips
 * stream entries up to that version applies every change once.
 */
import type { BlockIndex } from '../index-store/block-index.ts';
import { TIER_NAMES } from '../index-store/device-tiers.ts';
import { readKey, unpackKeys, writeKeys } from './key-bytes.ts';
import { LuaScript } from './lua-script.ts';
import { heldTiers, mappedKeys, PodLedger, tierRefs, type EngineMapping } from './pod-ledger.ts';
import type { RedisClient } from './redis-connection.ts';

export interface PodMeta {
  /** Identity of this incarnation of the pod's snapshot; a republish starts a new epoch. */
  readonly epoch: string;
  /** Changes applied in this epoch. */
  readonly version: number;
  /** Fingerprint of the last KV-event batch the owner applied, or '' (see `handover-buffer.ts`). */
  readonly fingerprint: string;
  readonly owner: string;
}

export interface PodSnapshot {
  /** Null when Redis holds nothing for the pod. */
  readonly meta: PodMeta | null;
  readonly blocks: Map<bigint, number>;
  readonly engine: Map<bigint, EngineMapping>;
}

const READ = new LuaScript(`
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }
`);

/** Reads a pod's snapshot atomically. */
export async function readPodSnapshot(
  client: RedisClient,
  metaKey: string,
  blocksKey: string,
  engineKey: string,
): Promise<PodSnapshot> {
  const reply = (await READ.runBuffer(client, [metaKey, blocksKey, engineKey], [])) as [
    Buffer[],
    Buffer[],
    Buffer[],
  ];
  const [metaFlat, blocksFlat, engineFlat] = reply;
  const meta = new Map<string, string>();
  for (let i = 0; i + 1 < metaFlat.length; i += 2)
    meta.set(metaFlat[i]!.toString('utf8'), metaFlat[i + 1]!.toString('utf8'));
  const blocks = new Map<bigint, number>();
  for (let i = 0; i + 1 < blocksFlat.length; i += 2) {
    const field = blocksFlat[i]!;
    const value = blocksFlat[i + 1]!;
    if (field.length !== 8 || value.length !== 2) continue;
    blocks.set(readKey(field), value.readUInt16LE(0));
  }
  const engine = new Map<bigint, EngineMapping>();
  for (let i = 0; i + 1 < engineFlat.length; i += 2) {
    const field = engineFlat[i]!;
    const value = engineFlat[i + 1]!;
    if (field.length !== 8 || value.length === 0 || value.length % 8 !== 0) continue;
    const keys = unpackKeys(value, 0, value.length / 8);
    engine.set(readKey(field), keys.length === 1 ? keys[0]! : keys);
  }
  return { meta: parseMeta(meta), blocks, engine };
}

/** Parses the meta hash; null when the pod has no snapshot. */
export function parseMeta(fields: Map<string, string>): PodMeta | null {
  const epoch = fields.get('e');
  const version = Number(fields.get('v'));
  if (!epoch || !Number.isInteger(version)) return null;
  return { epoch, version, fingerprint: fields.get('fp') ?? '', owner: fields.get('o') ?? '' };
}

/** A ledger holding the snapshot's state. */
export function ledgerFromSnapshot(snapshot: PodSnapshot, cap: number): PodLedger {
  const ledger = new PodLedger(cap);
  for (const [key, packed] of snapshot.blocks) if (ledger.blocks.size < cap) ledger.blocks.set(key, packed);
  for (const [key, mapping] of snapshot.engine) if (ledger.engine.size < cap) ledger.engine.set(key, mapping);
  return ledger;
}

/**
 * Packed field/value pairs of a blocks hash, for the scripts' `hsetBlocks`: per entry the request
 * key (8 bytes) and its packed reference counts (2 bytes), both little-endian. One buffer per
 * write instead of two arguments per key keeps large writes cheap to send.
 */
export function packBlockSets(entries: Iterable<[bigint, number]>, count: number): Buffer {
  const out = Buffer.allocUnsafe(count * 10);
  let at = 0;
  for (const [key, packed] of entries) {
    at = out.writeBigUInt64LE(BigInt.asUintN(64, key), at);
    at = out.writeUInt16LE(packed, at);
  }
  return at === out.length ? out : out.subarray(0, at);
}

/** Packed engine mappings for the scripts' `hsetEngine`: key (8), count (1), request keys (8 each). */
export function packEngineSets(entries: Iterable<[bigint, EngineMapping]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, mapping] of entries) {
    const keys = typeof mapping === 'bigint' ? [mapping] : mapping;
    const part = Buffer.allocUnsafe(9 + keys.length * 8);
    part.writeBigUInt64LE(BigInt.asUintN(64, key), 0);
    part.writeUInt8(keys.length, 8);
    writeKeys(keys, part, 9);
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/**
 * Lua helpers that unpack the buffers above into HSET/HDEL calls of at most 500 fields (a Lua
 * `unpack` of the whole write could exceed Lua's stack).
 */
export const LUA_FIELD_HELPERS = `
local function flush(command, key, t)
  if #t > 0 then redis.call(command, key, unpack(t)) end
  return {}
end
local function hsetBlocks(key, blob)
  local t = {}
  for i = 1, #blob, 10 do
    t[#t + 1] = string.sub(blob, i, i + 7)
    t[#t + 1] = string.sub(blob, i + 8, i + 9)
    if #t >= 1000 then t = flush('HSET', key, t) end
  end
  flush('HSET', key, t)
end
local function hdelKeys(key, blob)
  local t = {}
  for i = 1, #blob, 8 do
    t[#t + 1] = string.sub(blob, i, i + 7)
    if #t >= 500 then t = flush('HDEL', key, t) end
  end
  flush('HDEL', key, t)
end
local function hsetEngine(key, blob)
  local t = {}
  local i = 1
  while i <= #blob do
    local n = string.byte(blob, i + 8)
    t[#t + 1] = string.sub(blob, i, i + 7)
    t[#t + 1] = string.sub(blob, i + 9, i + 8 + n * 8)
    i = i + 9 + n * 8
    if #t >= 1000 then t = flush('HSET', key, t) end
  end
  flush('HSET', key, t)
end
`;

/**
 * Replaces `podId`'s confirmed entries in `index` with the snapshot's: the pod is cleared
 * (speculative entries survive), then the engine mappings are added, each with one reference in a
 * tier its keys hold, and the remaining references after them.
 */
export function loadSnapshotInto(
  index: BlockIndex,
  podId: string,
  blocks: ReadonlyMap<bigint, number>,
  engine: ReadonlyMap<bigint, EngineMapping>,
): void {
  void index.clearPod(podId);
  const remaining = new Map(blocks);
  const overshoot = new Map<string, [bigint, number]>();
  // Mappings of equal shape are added together: E engine keys of m request keys each pair up by
  // the ratio rule exactly as they were recorded.
  const groups = new Map<string, { tier: number; keys: bigint[]; engineKeys: bigint[] }>();
  for (const [engineKey, mapping] of engine) {
    const keys = [...mappedKeys(mapping)];
    const tier = mappingTier(keys, remaining, blocks);
    for (const key of keys) {
      const packed = remaining.get(key) ?? 0;
      const refs = tierRefs(packed, tier);
      if (refs === 0) overshoot.set(`${key}/${tier}`, [key, tier]);
      else remaining.set(key, packed - (1 << (tier * 3)));
    }
    const shape = `${tier}/${keys.length}`;
    let group = groups.get(shape);
    if (!group) {
      group = { tier, keys: [], engineKeys: [] };
      groups.set(shape, group);
    }
    group.keys.push(...keys);
    group.engineKeys.push(engineKey);
  }
  for (const group of groups.values()) {
    void index.add(podId, TIER_NAMES[group.tier]!, group.keys, group.engineKeys);
  }
  // Remaining references, one add per (tier, reference level).
  for (let level = 1; level <= 7; level++) {
    for (let tier = 0; tier < TIER_NAMES.length; tier++) {
      const keys: bigint[] = [];
      for (const [key, packed] of remaining) if (tierRefs(packed, tier) >= level) keys.push(key);
      if (keys.length > 0) void index.add(podId, TIER_NAMES[tier]!, keys, null);
    }
  }
  // A mapping added a reference its key did not have in that tier: set the exact count again.
  for (const [key, tier] of overshoot.values()) {
    void index.removeByRequestKeys(podId, TIER_NAMES[tier]!, [key]);
    const refs = tierRefs(blocks.get(key) ?? 0, tier);
    for (let i = 0; i < refs; i++) void index.add(podId, TIER_NAMES[tier]!, [key], null);
  }
}

/**
 * The tier to add a mapping in: one every key still has a reference left in, else one its first
 * key has left, else one its first key was held in at all (several engine keys can share a request
 * key when the engine's blocks are smaller), else gpu (a mapping whose keys are no longer held,
 * e.g. after `removeByRequestKeys`). Extra references are taken back afterwards.
 */
function mappingTier(
  keys: readonly bigint[],
  remaining: ReadonlyMap<bigint, number>,
  blocks: ReadonlyMap<bigint, number>,
): number {
  for (let tier = 0; tier < TIER_NAMES.length; tier++) {
    if (keys.every((key) => tierRefs(remaining.get(key) ?? 0, tier) > 0)) return tier;
  }
  for (const source of [remaining, blocks]) {
    for (const key of keys) {
      const tiers = heldTiers(source.get(key) ?? 0);
      if (tiers.length > 0) return tiers[0]!;
    }
  }
  return 0;
}
