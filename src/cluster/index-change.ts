/**
 * The changes a pod's ingestion owner makes to the block index, as they travel in the change
 * stream: the same operations as the {@link BlockIndex} mutations, so a mirror that applies them in
 * order through its own index ends up where the owner's index is.
 *
 * Binary layout of one stream entry's payload (all integers little-endian), a sequence of:
 * ```
 * u8 op
 * add        u8 tier, u32 keys, u32 engineKeys, keys·8, engineKeys·8
 * speculative u32 ttlMs, f64 atMs, u32 keys, keys·8
 * rmEngine   u8 tier, u64 engineKey
 * rmKeys     u8 tier, u32 keys, keys·8
 * clear | remove | snapshot | released  (no body)
 * ```
 */
import type { BlockIndex } from '../index-store/block-index.ts';
import { TIER_NAMES } from '../index-store/device-tiers.ts';
import { readKey, unpackKeys, writeKeys } from './key-bytes.ts';

export type IndexChange =
  | {
      readonly op: 'add';
      readonly tier: number;
      readonly keys: BigUint64Array;
      readonly engineKeys: BigUint64Array;
    }
  | {
      readonly op: 'speculative';
      readonly keys: BigUint64Array;
      readonly ttlMs: number;
      readonly atMs: number;
    }
  | { readonly op: 'rmEngine'; readonly tier: number; readonly engineKey: bigint }
  | { readonly op: 'rmKeys'; readonly tier: number; readonly keys: BigUint64Array }
  | { readonly op: 'clear' }
  | { readonly op: 'remove' }
  /** The pod's snapshot was replaced (new epoch): reload it. */
  | { readonly op: 'snapshot' }
  /** The owner gave the pod's lease back (clean shutdown): another replica may claim it now. */
  | { readonly op: 'released' };

const CODES = {
  add: 1,
  speculative: 2,
  rmEngine: 3,
  rmKeys: 4,
  clear: 5,
  remove: 6,
  snapshot: 7,
  released: 8,
} as const;

function sizeOf(change: IndexChange): number {
  switch (change.op) {
    case 'add':
      return 10 + 8 * (change.keys.length + change.engineKeys.length);
    case 'speculative':
      return 17 + 8 * change.keys.length;
    case 'rmEngine':
      return 10;
    case 'rmKeys':
      return 6 + 8 * change.keys.length;
    default:
      return 1;
  }
}

export function encodeChanges(changes: readonly IndexChange[]): Buffer {
  let size = 0;
  for (const change of changes) size += sizeOf(change);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const change of changes) {
    at = out.writeUInt8(CODES[change.op], at);
    switch (change.op) {
      case 'add':
        at = out.writeUInt8(change.tier, at);
        at = out.writeUInt32LE(change.keys.length, at);
        at = out.writeUInt32LE(change.engineKeys.length, at);
        at = writeKeys(change.keys, out, at);
        at = writeKeys(change.engineKeys, out, at);
        break;
      case 'speculative':
        at = out.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.round(change.ttlMs))), at);
        at = out.writeDoubleLE(change.atMs, at);
        at = out.writeUInt32LE(change.keys.length, at);
        at = writeKeys(change.keys, out, at);
        break;
      case 'rmEngine':
        at = out.writeUInt8(change.tier, at);
        at = out.writeBigUInt64LE(BigInt.asUintN(64, change.engineKey), at);
        break;
      case 'rmKeys':
        at = out.writeUInt8(change.tier, at);
        at = out.writeUInt32LE(change.keys.length, at);
        at = writeKeys(change.keys, out, at);
        break;
      default:
        break;
    }
  }
  return out;
}

/** Decodes a payload; throws `RangeError` on a truncated or unknown one. */
export function decodeChanges(bytes: Buffer): IndexChange[] {
  const out: IndexChange[] = [];
  let at = 0;
  while (at < bytes.length) {
    const code = bytes.readUInt8(at++);
    switch (code) {
      case CODES.add: {
        const tier = bytes.readUInt8(at);
        const n = bytes.readUInt32LE(at + 1);
        const e = bytes.readUInt32LE(at + 5);
        at += 9;
        check(bytes, at + 8 * (n + e));
        const keys = unpackKeys(bytes, at, n);
        const engineKeys = unpackKeys(bytes, at + 8 * n, e);
        at += 8 * (n + e);
        out.push({ op: 'add', tier, keys, engineKeys });
        break;
      }
      case CODES.speculative: {
        const ttlMs = bytes.readUInt32LE(at);
        const atMs = bytes.readDoubleLE(at + 4);
        const n = bytes.readUInt32LE(at + 12);
        at += 16;
        check(bytes, at + 8 * n);
        out.push({ op: 'speculative', ttlMs, atMs, keys: unpackKeys(bytes, at, n) });
        at += 8 * n;
        break;
      }
      case CODES.rmEngine:
        out.push({ op: 'rmEngine', tier: bytes.readUInt8(at), engineKey: readKey(bytes, at + 1) });
        at += 9;
        break;
      case CODES.rmKeys: {
        const tier = bytes.readUInt8(at);
        const n = bytes.readUInt32LE(at + 1);
        at += 5;
        check(bytes, at + 8 * n);
        out.push({ op: 'rmKeys', tier, keys: unpackKeys(bytes, at, n) });
        at += 8 * n;
        break;
      }
      case CODES.clear:
        out.push({ op: 'clear' });
        break;
      case CODES.remove:
        out.push({ op: 'remove' });
        break;
      case CODES.snapshot:
        out.push({ op: 'snapshot' });
        break;
      case CODES.released:
        out.push({ op: 'released' });
        break;
      default:
        throw new RangeError(`unknown index change code ${code}`);
    }
  }
  return out;
}

/**
 * Applies one change to a local index. `nowMs` ages speculative entries by the time they spent in
 * transit (the writer's and reader's clocks are both epoch milliseconds); expired ones are dropped.
 */
export function applyChange(index: BlockIndex, podId: string, change: IndexChange, nowMs: number): void {
  switch (change.op) {
    case 'add':
      void index.add(
        podId,
        TIER_NAMES[change.tier] ?? 'other',
        change.keys,
        bigintsOrNull(change.engineKeys),
      );
      return;
    case 'speculative': {
      const remaining = change.ttlMs - Math.max(0, nowMs - change.atMs);
      if (remaining > 0) void index.recordSpeculative(podId, change.keys, remaining);
      return;
    }
    case 'rmEngine':
      void index.removeByEngineKey(podId, TIER_NAMES[change.tier] ?? 'other', change.engineKey);
      return;
    case 'rmKeys':
      void index.removeByRequestKeys(podId, TIER_NAMES[change.tier] ?? 'other', change.keys);
      return;
    case 'clear':
      void index.clearPod(podId);
      return;
    case 'remove':
      void index.removePod(podId);
      return;
    case 'snapshot':
    case 'released':
      return;
  }
}

function bigintsOrNull(keys: BigUint64Array): bigint[] | null {
  return keys.length === 0 ? null : Array.from(keys);
}

function check(bytes: Buffer, end: number): void {
  if (end > bytes.length) throw new RangeError('truncated index change payload');
}
