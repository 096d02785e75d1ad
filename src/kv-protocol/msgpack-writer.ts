/**
 * Minimal MessagePack writer that reproduces msgspec's encoder byte for byte (shared reference
 * `kv-events-and-hashing.md` §2.1): smallest int form (fixint, `cc`–`cf`, `d0`–`d3`), floats always
 * float64 `cb`, strings fixstr/`d9`/`da`/`db`, bin `c4`–`c6`, array/map heads by size.
 *
 * @msgpack/msgpack cannot be used for this: it writes integral floats (e.g. a whole-second `ts`) as
 * ints and bigints at fixed 64-bit width.
 */
import { GrowableBuffer } from './growable-buffer.ts';

const TWO_POW_32 = 2 ** 32;

/** Appends MessagePack into a growable buffer reused across messages. */
export class MsgpackWriter extends GrowableBuffer {
  constructor(initialCapacity = 1024) {
    super(initialCapacity, 64);
  }

  /** A copy of the bytes written since the last reset. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  writeNil(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0xc0;
  }

  writeBoolean(value: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = value ? 0xc3 : 0xc2;
  }

  /** float64, as msgspec writes every Python float. */
  writeFloat64(value: number): void {
    this.ensure(9);
    this.buf[this.pos++] = 0xcb;
    this.buf.writeDoubleBE(value, this.pos);
    this.pos += 8;
  }

  /** A safe integer in its smallest MessagePack form. */
  writeInt(value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`msgpack: ${value} is not a safe integer`);
    this.ensure(9);
    const buf = this.buf;
    if (value >= 0) {
      if (value < 0x80) {
        buf[this.pos++] = value;
      } else if (value < 0x100) {
        buf[this.pos++] = 0xcc;
        buf[this.pos++] = value;
      } else if (value < 0x10000) {
        buf[this.pos++] = 0xcd;
        buf.writeUInt16BE(value, this.pos);
        this.pos += 2;
      } else if (value < TWO_POW_32) {
        buf[this.pos++] = 0xce;
        buf.writeUInt32BE(value, this.pos);
        this.pos += 4;
      } else {
        buf[this.pos++] = 0xcf;
        buf.writeUInt32BE(Math.floor(value / TWO_POW_32), this.pos);
        buf.writeUInt32BE(value >>> 0, this.pos + 4);
        this.pos += 8;
      }
    } else if (value >= -32) {
      buf[this.pos++] = value & 0xff;
    } else if (value >= -0x80) {
      buf[this.pos++] = 0xd0;
      buf.writeInt8(value, this.pos);
      this.pos += 1;
    } else if (value >= -0x8000) {
      buf[this.pos++] = 0xd1;
      buf.writeInt16BE(value, this.pos);
      this.pos += 2;
    } else if (value >= -0x8000_0000) {
      buf[this.pos++] = 0xd2;
      buf.writeInt32BE(value, this.pos);
      this.pos += 4;
    } else {
      buf[this.pos++] = 0xd3;
      buf.writeBigInt64BE(BigInt(value), this.pos);
      this.pos += 8;
    }
  }

  /** An integer in [-2^63, 2^64 - 1] in its smallest form (`cf` for hashes >= 2^63). */
  writeBigInt(value: bigint): void {
    if (value >= -0x20_0000_0000_0000n && value < 0x20_0000_0000_0000n) {
      this.writeInt(Number(value));
      return;
    }
    this.ensure(9);
    if (value >= 0n) {
      if (value >= 1n << 64n) throw new RangeError('msgpack: integer above 2^64-1');
      this.buf[this.pos++] = 0xcf;
      this.buf.writeBigUInt64BE(value, this.pos);
    } else {
      if (value < -(1n << 63n)) throw new RangeError('msgpack: integer below -2^63');
      this.buf[this.pos++] = 0xd3;
      this.buf.writeBigInt64BE(value, this.pos);
    }
    this.pos += 8;
  }

  writeString(value: string): void {
    const n = value.length;
    // Fast path for ASCII, which every tag and field name is.
    if (n < 32) {
      this.ensure(1 + n);
      const start = this.pos;
      const buf = this.buf;
      let pos = start + 1;
      let ascii = true;
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        buf[pos++] = c;
      }
      if (ascii) {
        buf[start] = 0xa0 | n;
        this.pos = pos;
        return;
      }
    }
    const byteLength = Buffer.byteLength(value, 'utf8');
    this.ensure(5 + byteLength);
    this.#strHead(byteLength);
    this.pos += this.buf.write(value, this.pos, byteLength, 'utf8');
  }

  writeBinary(value: Uint8Array): void {
    const n = value.length;
    this.ensure(5 + n);
    const buf = this.buf;
    if (n < 0x100) {
      buf[this.pos++] = 0xc4;
      buf[this.pos++] = n;
    } else if (n < 0x10000) {
      buf[this.pos++] = 0xc5;
      buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      buf[this.pos++] = 0xc6;
      buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
    buf.set(value, this.pos);
    this.pos += n;
  }

  writeArrayHeader(length: number): void {
    this.#containerHead(length, 0x90, 0xdc, 0xdd);
  }

  writeMapHeader(size: number): void {
    this.#containerHead(size, 0x80, 0xde, 0xdf);
  }

  #strHead(n: number): void {
    const buf = this.buf;
    if (n < 32) {
      buf[this.pos++] = 0xa0 | n;
    } else if (n < 0x100) {
      buf[this.pos++] = 0xd9;
      buf[this.pos++] = n;
    } else if (n < 0x10000) {
      buf[this.pos++] = 0xda;
      buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      buf[this.pos++] = 0xdb;
      buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  #containerHead(n: number, fix: number, head16: number, head32: number): void {
    this.ensure(5);
    const buf = this.buf;
    if (n < 16) {
      buf[this.pos++] = fix | n;
    } else if (n < 0x10000) {
      buf[this.pos++] = head16;
      buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      buf[this.pos++] = head32;
      buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }
}
