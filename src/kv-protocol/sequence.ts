/**
 * The sequence-number frame of vLLM's KV-event messages (shared reference
 * `kv-events-and-hashing.md` §1.3–§1.4): 8 bytes, big-endian, unsigned, starting at 0 per publisher
 * process. All-ones is reserved as the replay end marker.
 */

/** Replay end marker: `(-1).to_bytes(8, "big", signed=True)`. */
export const REPLAY_END_SEQ = 0xffff_ffff_ffff_ffffn;

/** Encodes a sequence number as the 8-byte big-endian frame. */
export function encodeSequence(seq: bigint): Buffer {
  if (seq < 0n || seq > REPLAY_END_SEQ) throw new RangeError(`sequence ${seq} is outside uint64`);
  const frame = Buffer.allocUnsafe(8);
  frame.writeBigUInt64BE(seq, 0);
  return frame;
}

/**
 * Reads a sequence frame: the first 8 bytes big-endian, as vLLM's consumers do. Returns `null` for a
 * frame shorter than 8 bytes.
 */
export function decodeSequence(frame: Uint8Array): bigint | null {
  if (frame.length < 8) return null;
  return new DataView(frame.buffer, frame.byteOffset, 8).getBigUint64(0, false);
}
