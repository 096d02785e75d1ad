/**
 * The one error type the KV-event decoding path throws (shared reference
 * `kv-events-and-hashing.md` §6, "Payload"): a subscriber catches it, counts the batch as malformed
 * and keeps going.
 */
export class KvEventDecodeError extends Error {
  /** Byte offset in the payload where decoding failed, when known. */
  readonly offset: number | undefined;

  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'KvEventDecodeError';
    this.offset = offset;
  }
}
