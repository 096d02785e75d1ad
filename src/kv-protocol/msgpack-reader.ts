/**
 * Defensive MessagePack reader for untrusted KV-event payloads (shared reference
 * `kv-events-and-hashing.md` §2.1 and §6): every int width (uint64 >= 2^53 comes back as a bigint,
 * exactly), float32/64, str, bin, ext, arrays and maps with any key type.
 *
 * Written here rather than using @msgpack/msgpack so that hostile input can only ever produce a
 * {@link KvEventDecodeError}: declared container sizes are checked against the bytes left before
 * anything is allocated, nesting depth is bounded (no stack overflow), and trailing bytes are
 * rejected.
 */
import { KvEventDecodeError } from './decode-error.ts';

/** A decoded MessagePack value. Integers beyond ±(2^53-1) are bigints; maps keep any key type. */
export type MsgpackValue =
  null | boolean | number | bigint | string | Uint8Array | MsgpackValue[] | MsgpackMap | MsgpackExtension;

export type MsgpackMap = Map<MsgpackValue, MsgpackValue>;

/** An ext-typed value, kept opaque (vLLM never sends one). */
export class MsgpackExtension {
  constructor(
    readonly type: number,
    readonly data: Uint8Array,
  ) {}
}

export interface ReadMsgpackOptions {
  /** Maximum container nesting; default 32 (a KV-event batch needs 6). */
  readonly maxDepth?: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/**
 * Decodes exactly one MessagePack value spanning all of `bytes`. Binary values are views into
 * `bytes`, not copies.
 *
 * @throws {KvEventDecodeError} on truncated, invalid or over-nested input, or trailing bytes.
 */
export function readMsgpack(bytes: Uint8Array, options: ReadMsgpackOptions = {}): MsgpackValue {
  const reader = new Reader(bytes, options.maxDepth ?? 32);
  const value = reader.value(0);
  if (reader.pos !== bytes.length) {
    throw new KvEventDecodeError(`msgpack: ${bytes.length - reader.pos} trailing bytes`, reader.pos);
  }
  return value;
}

class Reader {
  pos = 0;
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #maxDepth: number;

  constructor(bytes: Uint8Array, maxDepth: number) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#maxDepth = maxDepth;
  }

  value(depth: number): MsgpackValue {
    const b = this.#u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b <= 0x8f) return this.#map(b & 0x0f, depth);
    if (b <= 0x9f) return this.#array(b & 0x0f, depth);
    if (b <= 0xbf) return this.#str(b & 0x1f);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#bin(this.#u8());
      case 0xc5:
        return this.#bin(this.#u16());
      case 0xc6:
        return this.#bin(this.#u32());
      case 0xc7:
        return this.#ext(this.#u8());
      case 0xc8:
        return this.#ext(this.#u16());
      case 0xc9:
        return this.#ext(this.#u32());
      case 0xca:
        return this.#view.getFloat32(this.#advance(4), false);
      case 0xcb:
        return this.#view.getFloat64(this.#advance(8), false);
      case 0xcc:
        return this.#u8();
      case 0xcd:
        return this.#u16();
      case 0xce:
        return this.#u32();
      case 0xcf:
        return narrow(this.#view.getBigUint64(this.#advance(8), false));
      case 0xd0:
        return this.#view.getInt8(this.#advance(1));
      case 0xd1:
        return this.#view.getInt16(this.#advance(2), false);
      case 0xd2:
        return this.#view.getInt32(this.#advance(4), false);
      case 0xd3:
        return narrow(this.#view.getBigInt64(this.#advance(8), false));
      case 0xd4:
        return this.#ext(1);
      case 0xd5:
        return this.#ext(2);
      case 0xd6:
        return this.#ext(4);
      case 0xd7:
        return this.#ext(8);
      case 0xd8:
        return this.#ext(16);
      case 0xd9:
        return this.#str(this.#u8());
      case 0xda:
        return this.#str(this.#u16());
      case 0xdb:
        return this.#str(this.#u32());
      case 0xdc:
        return this.#array(this.#u16(), depth);
      case 0xdd:
        return this.#array(this.#u32(), depth);
      case 0xde:
        return this.#map(this.#u16(), depth);
      case 0xdf:
        return this.#map(this.#u32(), depth);
      default:
        throw new KvEventDecodeError(`msgpack: invalid type byte 0x${b.toString(16)}`, this.pos - 1);
    }
  }

  #array(length: number, depth: number): MsgpackValue[] {
    this.#enter(depth, length);
    const out = new Array<MsgpackValue>(length);
    for (let i = 0; i < length; i++) out[i] = this.value(depth + 1);
    return out;
  }

  #map(size: number, depth: number): MsgpackMap {
    this.#enter(depth, size * 2);
    const out: MsgpackMap = new Map();
    for (let i = 0; i < size; i++) {
      const key = this.value(depth + 1);
      out.set(key, this.value(depth + 1));
    }
    return out;
  }

  /** Checks depth and that `minBytes` (one per element) remain before allocating. */
  #enter(depth: number, minBytes: number): void {
    if (depth >= this.#maxDepth) throw new KvEventDecodeError('msgpack: nesting too deep', this.pos);
    if (minBytes > this.#bytes.length - this.pos) {
      throw new KvEventDecodeError('msgpack: container larger than the payload', this.pos);
    }
  }

  #str(length: number): string {
    const start = this.#advance(length);
    const bytes = this.#bytes;
    if (length < 32) {
      let s = '';
      for (let i = start; i < start + length; i++) {
        const c = bytes[i]!;
        if (c >= 0x80) return Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('utf8');
        s += String.fromCharCode(c);
      }
      return s;
    }
    return Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('utf8');
  }

  #bin(length: number): Uint8Array {
    const start = this.#advance(length);
    return this.#bytes.subarray(start, start + length);
  }

  #ext(length: number): MsgpackExtension {
    const type = this.#view.getInt8(this.#advance(1));
    return new MsgpackExtension(type, this.#bin(length));
  }

  #u8(): number {
    return this.#bytes[this.#advance(1)]!;
  }

  #u16(): number {
    return this.#view.getUint16(this.#advance(2), false);
  }

  #u32(): number {
    return this.#view.getUint32(this.#advance(4), false);
  }

  /** Reserves `n` bytes and returns their start offset. */
  #advance(n: number): number {
    const start = this.pos;
    if (n > this.#bytes.length - start) {
      throw new KvEventDecodeError('msgpack: unexpected end of payload', start);
    }
    this.pos = start + n;
    return start;
  }
}

function narrow(value: bigint): number | bigint {
  return value <= MAX_SAFE && value >= MIN_SAFE ? Number(value) : value;
}
