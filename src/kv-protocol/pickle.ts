/**
 * CPython pickle protocol 5 encoder for exactly what vLLM's default `sha256` (and `xxhash`) block
 * hash serializes: the seed string, and the tuple `(parent: bytes, tokens: tuple[int], extra: None |
 * tuple)` (shared reference `kv-events-and-hashing.md` §3.2 and §3.5).
 *
 * The output must be byte-identical to `pickle.dumps(obj, protocol=5)` from CPython's C pickler,
 * because the bytes are hashed. Reproduced details:
 * - PROTO 5, then FRAME opcodes: a new frame is opened before saving the next object once the
 *   current one holds >= 64 KiB; a frame shorter than 4 bytes is written without its header; bytes
 *   or str payloads >= 64 KiB are written outside any frame.
 * - smallest int opcode (BININT1/BININT2/BININT, else LONG1 with CPython's two's-complement
 *   trimming); SHORT_BINBYTES/BINBYTES; SHORT_BINUNICODE/BINUNICODE; TUPLE1-3 or MARK…TUPLE;
 *   EMPTY_TUPLE unmemoized; MEMOIZE after every bytes, str and non-empty tuple.
 * - memoization is by object identity in CPython. The only strings guaranteed to be shared objects
 *   are the interpreter's singletons (`""` and one-character strings below U+0100), so equal
 *   strings of those kinds become BINGET; any other repeated string is assumed to be a distinct
 *   object (true for names and identifiers built at runtime).
 */
import { GrowableBuffer } from './growable-buffer.ts';
import type { BlockExtraKeys } from './events.ts';

/** Values the pickler accepts. Arrays pickle as tuples. */
export type PickleValue = null | number | bigint | string | Uint8Array | readonly PickleValue[];

const PROTO = 0x80;
const FRAME = 0x95;
const STOP = 0x2e;
const NONE = 0x4e;
const BININT = 0x4a;
const BININT1 = 0x4b;
const BININT2 = 0x4d;
const LONG1 = 0x8a;
const SHORT_BINBYTES = 0x43;
const BINBYTES = 0x42;
const SHORT_BINUNICODE = 0x8c;
const BINUNICODE = 0x58;
const EMPTY_TUPLE = 0x29;
const MARK = 0x28;
const TUPLE = 0x74;
const TUPLE1 = 0x85;
const MEMOIZE = 0x94;
const BINGET = 0x68;
const LONG_BINGET = 0x6a;

const FRAME_HEADER_SIZE = 9;
const FRAME_SIZE_MIN = 4;
const FRAME_SIZE_TARGET = 64 * 1024;

/**
 * A reusable pickler. Each `dump*` call returns a view into the internal buffer that stays valid
 * until the next call; copy it if you keep it.
 */
export class VllmPickler extends GrowableBuffer {
  /** Offset of the open frame's header, or -1 when no frame is open. */
  #frameStart = -1;
  #memoSize = 0;
  /** Memo indices of CPython's singleton strings seen in the current dump. */
  readonly #singletons = new Map<string, number>();

  constructor(initialCapacity = 512) {
    super(initialCapacity, 64);
  }

  /** `pickle.dumps(value, 5)` for the {@link PickleValue} subset. */
  dump(value: PickleValue): Uint8Array {
    this.#begin();
    this.#save(value);
    return this.#end();
  }

  /**
   * `pickle.dumps((parent, tuple(tokens[start:end]), extraKeys), 5)` — the block-hash input — without
   * materializing the token slice.
   */
  dumpBlockHashInput(
    parent: Uint8Array,
    tokens: ArrayLike<number>,
    start: number,
    end: number,
    extraKeys: BlockExtraKeys,
  ): Uint8Array {
    this.#begin();
    this.#boundary();
    this.#saveBytes(parent);
    this.#boundary();
    this.#saveIntTuple(tokens, start, end);
    this.#save(extraKeys as PickleValue);
    this.ensure(2);
    this.buf[this.pos++] = TUPLE1 + 2;
    this.buf[this.pos++] = MEMOIZE;
    this.#memoSize++;
    return this.#end();
  }

  #begin(): void {
    this.pos = 0;
    this.#memoSize = 0;
    this.#singletons.clear();
    this.ensure(2);
    this.buf[this.pos++] = PROTO;
    this.buf[this.pos++] = 5;
    this.#openFrame();
  }

  #end(): Uint8Array {
    this.ensure(1);
    this.buf[this.pos++] = STOP;
    this.#commitFrame();
    return this.buf.subarray(0, this.pos);
  }

  #openFrame(): void {
    this.ensure(FRAME_HEADER_SIZE);
    this.#frameStart = this.pos;
    this.pos += FRAME_HEADER_SIZE;
  }

  #commitFrame(): void {
    const start = this.#frameStart;
    if (start < 0) return;
    const frameLength = this.pos - start - FRAME_HEADER_SIZE;
    if (frameLength >= FRAME_SIZE_MIN) {
      this.buf[start] = FRAME;
      this.buf.writeUInt32LE(frameLength, start + 1);
      this.buf.writeUInt32LE(0, start + 5);
    } else {
      // CPython drops the header of a tiny frame and shifts its bytes back.
      this.buf.copy(this.buf, start, start + FRAME_HEADER_SIZE, this.pos);
      this.pos -= FRAME_HEADER_SIZE;
    }
    this.#frameStart = -1;
  }

  /** CPython checks the frame size at the start of every `save()`. */
  #boundary(): void {
    if (this.#frameStart >= 0 && this.pos - this.#frameStart - FRAME_HEADER_SIZE >= FRAME_SIZE_TARGET) {
      this.#commitFrame();
      this.#openFrame();
    }
  }

  #save(value: PickleValue): void {
    this.#boundary();
    if (value === null) {
      this.ensure(1);
      this.buf[this.pos++] = NONE;
    } else if (typeof value === 'number') {
      this.#saveInt(value);
    } else if (typeof value === 'bigint') {
      this.#saveLong(value);
    } else if (typeof value === 'string') {
      this.#saveString(value);
    } else if (value instanceof Uint8Array) {
      this.#saveBytes(value);
    } else if (Array.isArray(value)) {
      this.#saveTuple(value as readonly PickleValue[]);
    } else {
      throw new TypeError(`pickle: unsupported value of type ${typeof value}`);
    }
  }

  #saveTuple(items: readonly PickleValue[]): void {
    const n = items.length;
    if (n === 0) {
      this.ensure(1);
      this.buf[this.pos++] = EMPTY_TUPLE;
      return;
    }
    if (n <= 3) {
      for (const item of items) this.#save(item);
      this.ensure(2);
      this.buf[this.pos++] = TUPLE1 + n - 1;
    } else {
      this.ensure(1);
      this.buf[this.pos++] = MARK;
      for (const item of items) this.#save(item);
      this.ensure(2);
      this.buf[this.pos++] = TUPLE;
    }
    this.buf[this.pos++] = MEMOIZE;
    this.#memoSize++;
  }

  /** `tuple(tokens[start:end])`, saved element by element as CPython would. */
  #saveIntTuple(tokens: ArrayLike<number>, start: number, end: number): void {
    const n = end - start;
    if (n === 0) {
      this.ensure(1);
      this.buf[this.pos++] = EMPTY_TUPLE;
      return;
    }
    if (n > 3) {
      this.ensure(1);
      this.buf[this.pos++] = MARK;
    }
    for (let i = start; i < end; i++) {
      this.#boundary();
      this.#saveInt(tokens[i]!);
    }
    this.ensure(2);
    this.buf[this.pos++] = n > 3 ? TUPLE : TUPLE1 + n - 1;
    this.buf[this.pos++] = MEMOIZE;
    this.#memoSize++;
  }

  #saveInt(value: number): void {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`pickle: ${value} is not a safe integer (floats are not supported)`);
    }
    this.ensure(5);
    const buf = this.buf;
    if (value >= 0 && value < 0x100) {
      buf[this.pos++] = BININT1;
      buf[this.pos++] = value;
    } else if (value >= 0 && value < 0x10000) {
      buf[this.pos++] = BININT2;
      buf.writeUInt16LE(value, this.pos);
      this.pos += 2;
    } else if (value >= -0x8000_0000 && value < 0x8000_0000) {
      buf[this.pos++] = BININT;
      buf.writeInt32LE(value, this.pos);
      this.pos += 4;
    } else {
      this.#saveLong(BigInt(value));
    }
  }

  /** LONG1 with CPython's `encode_long` byte count, or the small-int opcodes when they fit. */
  #saveLong(value: bigint): void {
    if (value >= -0x8000_0000n && value < 0x8000_0000n) {
      this.#saveInt(Number(value));
      return;
    }
    const magnitude = value < 0n ? -value : value;
    let nbytes = (magnitude.toString(2).length >> 3) + 1;
    if (nbytes > 255) throw new RangeError('pickle: integer too large for LONG1');
    const twos = BigInt.asUintN(nbytes * 8, value);
    const bytes: number[] = [];
    for (let i = 0; i < nbytes; i++) bytes.push(Number((twos >> BigInt(8 * i)) & 0xffn));
    // encode_long drops a redundant 0xff sign byte for negatives like -2**(8k-1).
    if (value < 0n && nbytes > 1 && bytes[nbytes - 1] === 0xff && (bytes[nbytes - 2]! & 0x80) !== 0) {
      nbytes--;
    }
    this.ensure(2 + nbytes);
    this.buf[this.pos++] = LONG1;
    this.buf[this.pos++] = nbytes;
    for (let i = 0; i < nbytes; i++) this.buf[this.pos++] = bytes[i]!;
  }

  #saveBytes(value: Uint8Array): void {
    const n = value.length;
    if (n < 0x100) {
      this.ensure(2 + n + 1);
      this.buf[this.pos++] = SHORT_BINBYTES;
      this.buf[this.pos++] = n;
      this.buf.set(value, this.pos);
      this.pos += n;
    } else {
      this.#writeSized(BINBYTES, value);
    }
    this.#memoize();
  }

  #saveString(value: string): void {
    const isSingleton = value.length === 0 || (value.length === 1 && value.charCodeAt(0) < 0x100);
    if (isSingleton) {
      const index = this.#singletons.get(value);
      if (index !== undefined) {
        this.#binget(index);
        return;
      }
      this.#singletons.set(value, this.#memoSize);
    }
    const utf8 = Buffer.from(value, 'utf8');
    if (utf8.length < 0x100) {
      this.ensure(2 + utf8.length + 1);
      this.buf[this.pos++] = SHORT_BINUNICODE;
      this.buf[this.pos++] = utf8.length;
      this.buf.set(utf8, this.pos);
      this.pos += utf8.length;
    } else {
      this.#writeSized(BINUNICODE, utf8);
    }
    this.#memoize();
  }

  /** Opcode + u32 LE length + payload; large payloads bypass framing as in CPython. */
  #writeSized(opcode: number, payload: Uint8Array): void {
    if (payload.length > 0xffff_ffff) throw new RangeError('pickle: payload too large');
    const bypass = payload.length >= FRAME_SIZE_TARGET;
    if (bypass) this.#commitFrame();
    this.ensure(5 + payload.length + FRAME_HEADER_SIZE + 1);
    this.buf[this.pos++] = opcode;
    this.buf.writeUInt32LE(payload.length, this.pos);
    this.pos += 4;
    this.buf.set(payload, this.pos);
    this.pos += payload.length;
    if (bypass) this.#openFrame();
  }

  #memoize(): void {
    this.ensure(1);
    this.buf[this.pos++] = MEMOIZE;
    this.#memoSize++;
  }

  #binget(index: number): void {
    this.ensure(5);
    if (index < 0x100) {
      this.buf[this.pos++] = BINGET;
      this.buf[this.pos++] = index;
    } else {
      this.buf[this.pos++] = LONG_BINGET;
      this.buf.writeUInt32LE(index, this.pos);
      this.pos += 4;
    }
  }
}

/** `pickle.dumps(value, protocol=5)` as a fresh byte array. */
export function pickleDumps(value: PickleValue): Uint8Array {
  return new Uint8Array(new VllmPickler().dump(value));
}
