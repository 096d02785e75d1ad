/**
 * A reader thread's view of a `MemoryBlockIndex`: lock-free, synchronous lookups over the
 * shared buffers, and speculative inserts forwarded to the owner through a message port.
 */
import type { MessagePort } from 'node:worker_threads';
import {
  DEFAULT_SPECULATIVE_TTL_MS,
  type BlockIndexLookup,
  type BlockKeyList,
  type PrefixMatch,
} from './block-index.ts';
import { defaultClock } from './index-clock.ts';
import { PodDirectory } from './pod-directory.ts';
import { PrefixMatcher } from './prefix-matcher.ts';
import { SharedLayout, type MemoryIndexBuffers } from './shared-layout.ts';
import type { SpeculativeWrite } from './speculative-write.ts';

export interface MemoryBlockIndexReaderOptions {
  /** A port from the owner's `openWritePort()`; without it `recordSpeculative` throws. */
  readonly writePort?: MessagePort;
  /** Must agree with the owner's clock. Default `performance.timeOrigin + performance.now()`. */
  readonly now?: () => number;
}

export class MemoryBlockIndexReader implements BlockIndexLookup {
  readonly #matcher: PrefixMatcher;
  readonly #port: MessagePort | undefined;

  private constructor(layout: SharedLayout, options: MemoryBlockIndexReaderOptions) {
    this.#matcher = new PrefixMatcher(layout, new PodDirectory(layout), options.now ?? defaultClock);
    this.#port = options.writePort;
    this.#port?.unref();
  }

  /**
   * Attaches to the owner's `index.buffers` (received through `workerData` or `postMessage`).
   *
   * @throws {TypeError} if the buffers are not a memory block index of this layout version.
   */
  static attach(
    buffers: MemoryIndexBuffers,
    options: MemoryBlockIndexReaderOptions = {},
  ): MemoryBlockIndexReader {
    return new MemoryBlockIndexReader(SharedLayout.attach(buffers), options);
  }

  longestPrefix(requestKeys: BlockKeyList, podIds?: Iterable<string>): Map<string, PrefixMatch> {
    return this.#matcher.longestPrefix(requestKeys, podIds);
  }

  /** Posts the entry to the owner, which applies it within its next event-loop turn. */
  recordSpeculative(
    podId: string,
    requestKeys: BlockKeyList,
    ttlMs: number = DEFAULT_SPECULATIVE_TTL_MS,
  ): void {
    if (!this.#port) throw new Error('this reader has no write port (pass one from openWritePort())');
    const keys = requestKeys instanceof BigUint64Array ? requestKeys : BigUint64Array.from(requestKeys);
    const message: SpeculativeWrite = { podId, keys, ttlMs };
    this.#port.postMessage(message);
  }

  /** Closes the write port, if any. */
  close(): void {
    this.#port?.close();
  }
}
