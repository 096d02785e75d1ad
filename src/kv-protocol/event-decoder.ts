/**
 * Tolerant decoder for vLLM KV-event payloads on the router side (shared reference
 * `kv-events-and-hashing.md` §2 and the "Payload" checklist of §6).
 *
 * Accepted:
 * - the batch as an array of 2 (v0.9.0) or more elements `[ts, events, data_parallel_rank?, …]`;
 * - each event either positional `[tag, …fields]` of any length (missing trailing fields are None,
 *   extra ones ignored) or a map selected by field name (`"type"` = tag), mixed freely in one batch;
 * - hashes as uint of any width, negative int (two's complement to u64, legacy Python `hash()`), or
 *   bin (last 8 bytes big-endian, left-padded when shorter). A parent hash of nil or 0 means none.
 *
 * An event with an unknown tag, or whose known fields have the wrong types, is skipped and counted;
 * the rest of the batch survives (llm-d drops the whole batch; we deliberately do not). A payload
 * that is not valid MessagePack or not a batch throws {@link KvEventDecodeError}.
 *
 * `medium` is passed through verbatim (normalizing tiers is the index's job). `extra_keys` is read
 * leniently: entries that are not nil/array become null and items other than str, bin or
 * `[str, int]` are dropped, since the hashes stay usable without them.
 */
import { KvEventDecodeError } from './decode-error.ts';
import type {
  AllBlocksCleared,
  BlockExtraKeys,
  BlockRemoved,
  BlockStored,
  ExtraKey,
  KvEvent,
} from './events.ts';
import { readMsgpack, type MsgpackValue } from './msgpack-reader.ts';

export { KvEventDecodeError } from './decode-error.ts';

/** A decoded batch: events with hashes normalized to unsigned 64-bit ints. */
export interface DecodedKvEventBatch {
  readonly ts: number;
  readonly events: KvEvent<bigint>[];
  /** `null` when absent (2-element batch) or nil. */
  readonly dataParallelRank: number | null;
  /** Events whose tag this decoder does not know. */
  readonly skippedUnknown: number;
  /** Events of a known tag whose fields could not be read. */
  readonly skippedMalformed: number;
}

/**
 * Decodes one KV-event payload (ZeroMQ frame 2).
 *
 * @throws {KvEventDecodeError} when the payload is not a MessagePack batch array.
 */
export function decodeEventBatch(payload: Uint8Array): DecodedKvEventBatch {
  const root = readMsgpack(payload);
  if (!Array.isArray(root) || root.length < 2) {
    throw new KvEventDecodeError('KV event batch must be an array of at least 2 elements');
  }
  const [ts, rawEvents, rank] = root;
  if (typeof ts !== 'number') throw new KvEventDecodeError('KV event batch: ts is not a number');
  if (!Array.isArray(rawEvents)) throw new KvEventDecodeError('KV event batch: events is not an array');

  const events: KvEvent<bigint>[] = [];
  let skippedUnknown = 0;
  let skippedMalformed = 0;
  for (const raw of rawEvents) {
    const event = decodeEvent(raw);
    if (event === UNKNOWN) skippedUnknown++;
    else if (event === MALFORMED) skippedMalformed++;
    else events.push(event);
  }
  return {
    ts,
    events,
    dataParallelRank: typeof rank === 'number' && Number.isInteger(rank) ? rank : null,
    skippedUnknown,
    skippedMalformed,
  };
}

/**
 * Normalizes a wire hash to uint64 (§2.4 consumer rule): uint as is, negative int as two's
 * complement, bin as its last 8 bytes big-endian. Returns `undefined` for anything else, including
 * an empty bin.
 */
export function normalizeWireHash(value: MsgpackValue): bigint | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? BigInt.asUintN(64, BigInt(value)) : undefined;
  }
  if (typeof value === 'bigint') return BigInt.asUintN(64, value);
  if (value instanceof Uint8Array) {
    const n = value.length;
    if (n === 0) return undefined;
    let out = 0n;
    for (let i = Math.max(0, n - 8); i < n; i++) out = (out << 8n) | BigInt(value[i]!);
    return out;
  }
  return undefined;
}

const UNKNOWN = Symbol('unknown');
const MALFORMED = Symbol('malformed');

/** Thrown inside one event's decoding and caught per event. */
class MalformedEvent extends Error {}

/** Reads a field by position (array events) or by name (map events); `undefined` when absent. */
type FieldReader = (position: number, name: string) => MsgpackValue | undefined;

function decodeEvent(raw: MsgpackValue): KvEvent<bigint> | typeof UNKNOWN | typeof MALFORMED {
  let tag: MsgpackValue | undefined;
  let field: FieldReader;
  if (Array.isArray(raw)) {
    tag = raw[0];
    field = (position) => raw[position];
  } else if (raw instanceof Map) {
    tag = raw.get('type');
    field = (_position, name) => raw.get(name);
  } else {
    return MALFORMED;
  }
  if (typeof tag !== 'string') return MALFORMED;
  try {
    switch (tag) {
      case 'BlockStored':
        return decodeBlockStored(field);
      case 'BlockRemoved':
        return decodeBlockRemoved(field);
      case 'AllBlocksCleared':
        return ALL_BLOCKS_CLEARED;
      default:
        return UNKNOWN;
    }
  } catch (err) {
    if (err instanceof MalformedEvent) return MALFORMED;
    throw err;
  }
}

const ALL_BLOCKS_CLEARED: AllBlocksCleared = Object.freeze({ type: 'AllBlocksCleared' });

function decodeBlockStored(field: FieldReader): BlockStored<bigint> {
  const tokenIds = required(field(3, 'token_ids'));
  const blockSize = required(field(4, 'block_size'));
  return {
    type: 'BlockStored',
    blockHashes: hashList(required(field(1, 'block_hashes'))),
    parentBlockHash: parentHash(field(2, 'parent_block_hash')),
    tokenIds: tokenList(tokenIds),
    blockSize: nonNegativeInt(blockSize),
    loraId: optionalInt(field(5, 'lora_id')),
    medium: optionalString(field(6, 'medium')),
    loraName: optionalString(field(7, 'lora_name')),
    extraKeys: extraKeyList(field(8, 'extra_keys')),
    groupIdx: optionalInt(field(9, 'group_idx')),
    kvCacheSpecKind: optionalString(field(10, 'kv_cache_spec_kind')),
    kvCacheSpecSlidingWindow: optionalInt(field(11, 'kv_cache_spec_sliding_window')),
    locality: optionalString(field(12, 'locality')),
  };
}

function decodeBlockRemoved(field: FieldReader): BlockRemoved<bigint> {
  return {
    type: 'BlockRemoved',
    blockHashes: hashList(required(field(1, 'block_hashes'))),
    medium: optionalString(field(2, 'medium')),
    groupIdx: optionalInt(field(3, 'group_idx')),
    locality: optionalString(field(4, 'locality')),
  };
}

function required(value: MsgpackValue | undefined): MsgpackValue {
  if (value === undefined) throw new MalformedEvent();
  return value;
}

function hashList(value: MsgpackValue): bigint[] {
  if (!Array.isArray(value)) throw new MalformedEvent();
  const out = new Array<bigint>(value.length);
  for (let i = 0; i < value.length; i++) {
    const h = normalizeWireHash(value[i]!);
    if (h === undefined) throw new MalformedEvent();
    out[i] = h;
  }
  return out;
}

function parentHash(value: MsgpackValue | undefined): bigint | null {
  if (value === undefined || value === null) return null;
  const h = normalizeWireHash(value);
  if (h === undefined) throw new MalformedEvent();
  // The inference simulator and llm-d use 0 for "no parent".
  return h === 0n ? null : h;
}

function tokenList(value: MsgpackValue): number[] {
  if (!Array.isArray(value)) throw new MalformedEvent();
  const out = new Array<number>(value.length);
  for (let i = 0; i < value.length; i++) out[i] = nonNegativeInt(value[i]!);
  return out;
}

function nonNegativeInt(value: MsgpackValue): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new MalformedEvent();
  return value;
}

function optionalInt(value: MsgpackValue | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new MalformedEvent();
  return value;
}

function optionalString(value: MsgpackValue | undefined): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new MalformedEvent();
  return value;
}

function extraKeyList(value: MsgpackValue | undefined): BlockExtraKeys[] | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw new MalformedEvent();
  return value.map(blockExtraKeys);
}

function blockExtraKeys(entry: MsgpackValue): BlockExtraKeys {
  if (!Array.isArray(entry)) return null;
  const keys: ExtraKey[] = [];
  for (const item of entry) {
    if (typeof item === 'string') {
      keys.push(item);
    } else if (item instanceof Uint8Array) {
      // Copy: the view points into the ZeroMQ message buffer.
      keys.push(new Uint8Array(item));
    } else if (
      Array.isArray(item) &&
      typeof item[0] === 'string' &&
      typeof item[1] === 'number' &&
      Number.isInteger(item[1])
    ) {
      keys.push([item[0], item[1]]);
    }
  }
  return keys;
}
