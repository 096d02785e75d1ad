/**
 * Canonical CBOR encoder for the value shapes vLLM (`sha256_cbor`, `xxhash_cbor`) and llm-d
 * (`cbor-fnv`) hash (shared reference `kv-events-and-hashing.md` §3.5 and §4.2).
 *
 * Canonical here means what `cbor2.dumps(canonical=True)` and fxamacker/cbor `CanonicalEncOptions()`
 * produce for these shapes: shortest heads, definite lengths, no tags, map keys sorted length-first
 * then bytewise by their encoded form (RFC 7049 §3.9). Floats, tags and indefinite lengths are out
 * of scope and rejected.
 *
 * This runs once per 16-token block on the request path, so {@link CborWriter} appends into one
 * reusable buffer and the typed `write*` methods allocate nothing per item.
 */
import { GrowableBuffer } from './growable-buffer.ts';

/** A value the encoder accepts. Arrays encode as CBOR arrays (Python tuples and lists alike). */
export type CborValue =
  null | boolean | number | bigint | string | Uint8Array | readonly CborValue[] | CborMap | CborRecord;

/** A map with arbitrary keys; entries are written in canonical key order, not insertion order. */
export type CborMap = ReadonlyMap<CborValue, CborValue>;

/** A string-keyed map (e.g. Go's `{"Hash": "…"}` struct encoding in llm-d). */
export interface CborRecord {
  readonly [key: string]: CborValue;
}

const MAJOR_UINT = 0;
const MAJOR_NEGINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;

const TWO_POW_32 = 2 ** 32;
const U64_MAX = (1n << 64n) - 1n;

/**
 * Appends canonical CBOR into a growable buffer that is reused across encodings.
 *
 * Call {@link reset} before each top-level value; {@link bytes} returns a view that stays valid
 * until the next write or reset.
 */
export class CborWriter extends GrowableBuffer {
  constructor(initialCapacity = 512) {
    super(initialCapacity, 16);
  }

  /** The bytes written since the last reset (a view into the internal buffer, not a copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written since the last reset. */
  toBytes(): Uint8Array {
    return new Uint8Array(this.buf.subarray(0, this.pos));
  }

  writeNull(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0xf6;
  }

  writeBoolean(value: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = value ? 0xf5 : 0xf4;
  }

  /** Writes a safe integer as major type 0 (>= 0) or 1 (< 0). */
  writeInt(value: number): void {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`CBOR: ${value} is not a safe integer (floats are not supported)`);
    }
    if (value >= 0) this.#head(MAJOR_UINT, value);
    else this.#head(MAJOR_NEGINT, -1 - value);
  }

  /** Writes an integer in [-2^64, 2^64 - 1], e.g. a uint64 hash. */
  writeBigInt(value: bigint): void {
    if (value >= 0n) {
      if (value > U64_MAX) throw new RangeError('CBOR: integer above 2^64-1 needs a bignum tag');
      this.#bigHead(MAJOR_UINT, value);
    } else {
      const arg = -1n - value;
      if (arg > U64_MAX) throw new RangeError('CBOR: integer below -2^64 needs a bignum tag');
      this.#bigHead(MAJOR_NEGINT, arg);
    }
  }

  /** Writes a byte string (major type 2). */
  writeBytes(value: Uint8Array): void {
    this.#head(MAJOR_BYTES, value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** Writes a UTF-8 text string (major type 3). */
  writeText(value: string): void {
    const start = this.pos;
    const n = value.length;
    // Fast path: assume ASCII (length in bytes == length in UTF-16 units), rewind if not.
    this.#head(MAJOR_TEXT, n);
    this.ensure(n);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = start;
        this.#writeUtf8Text(value);
        return;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
  }

  /** Writes the head of a definite-length array; the caller writes `length` items next. */
  writeArrayHeader(length: number): void {
    this.#head(MAJOR_ARRAY, length);
  }

  /** Writes the head of a definite-length map; the caller writes keys in canonical order. */
  writeMapHeader(size: number): void {
    this.#head(MAJOR_MAP, size);
  }

  /** Writes any {@link CborValue}; maps are emitted in canonical key order. */
  writeValue(value: CborValue): void {
    switch (typeof value) {
      case 'number':
        this.writeInt(value);
        return;
      case 'bigint':
        this.writeBigInt(value);
        return;
      case 'string':
        this.writeText(value);
        return;
      case 'boolean':
        this.writeBoolean(value);
        return;
      case 'object':
        if (value === null) {
          this.writeNull();
        } else if (value instanceof Uint8Array) {
          this.writeBytes(value);
        } else if (Array.isArray(value)) {
          const items = value as readonly CborValue[];
          this.writeArrayHeader(items.length);
          for (const item of items) this.writeValue(item);
        } else if (value instanceof Map) {
          this.#writeMap([...(value as CborMap).entries()]);
        } else {
          this.#writeMap(Object.entries(value as CborRecord));
        }
        return;
      default:
        throw new TypeError(`CBOR: unsupported value of type ${typeof value}`);
    }
  }

  #writeMap(entries: readonly (readonly [CborValue, CborValue])[]): void {
    // Keys are compared by their encoded bytes, so encode each once on a scratch writer.
    const scratch = new CborWriter(64);
    const encoded = entries.map(([key, value]) => {
      scratch.reset();
      scratch.writeValue(key);
      return { key: scratch.toBytes(), value };
    });
    encoded.sort((a, b) => compareCanonicalKeys(a.key, b.key));
    for (let i = 1; i < encoded.length; i++) {
      if (compareCanonicalKeys(encoded[i - 1]!.key, encoded[i]!.key) === 0) {
        throw new RangeError('CBOR: duplicate map key');
      }
    }
    this.writeMapHeader(encoded.length);
    for (const { key, value } of encoded) {
      this.ensure(key.length);
      this.buf.set(key, this.pos);
      this.pos += key.length;
      this.writeValue(value);
    }
  }

  #writeUtf8Text(value: string): void {
    const byteLength = Buffer.byteLength(value, 'utf8');
    this.#head(MAJOR_TEXT, byteLength);
    this.ensure(byteLength);
    this.pos += this.buf.write(value, this.pos, byteLength, 'utf8');
  }

  #head(major: number, arg: number): void {
    this.ensure(9);
    const buf = this.buf;
    const m = major << 5;
    if (arg < 24) {
      buf[this.pos++] = m | arg;
    } else if (arg < 0x100) {
      buf[this.pos++] = m | 24;
      buf[this.pos++] = arg;
    } else if (arg < 0x10000) {
      buf[this.pos++] = m | 25;
      buf.writeUInt16BE(arg, this.pos);
      this.pos += 2;
    } else if (arg < TWO_POW_32) {
      buf[this.pos++] = m | 26;
      buf.writeUInt32BE(arg, this.pos);
      this.pos += 4;
    } else {
      buf[this.pos++] = m | 27;
      buf.writeUInt32BE(Math.floor(arg / TWO_POW_32), this.pos);
      buf.writeUInt32BE(arg >>> 0, this.pos + 4);
      this.pos += 8;
    }
  }

  #bigHead(major: number, arg: bigint): void {
    if (arg < 0x1_0000_0000n) {
      this.#head(major, Number(arg));
      return;
    }
    this.ensure(9);
    this.buf[this.pos++] = (major << 5) | 27;
    this.buf.writeBigUInt64BE(arg, this.pos);
    this.pos += 8;
  }
}

/** RFC 7049 §3.9 canonical key order: shorter encoding first, then bytewise. */
function compareCanonicalKeys(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length;
  return Buffer.compare(a, b);
}

/** Encodes one value as canonical CBOR into a fresh byte array. */
export function encodeCbor(value: CborValue): Uint8Array {
  const writer = new CborWriter();
  writer.writeValue(value);
  return writer.toBytes();
}
