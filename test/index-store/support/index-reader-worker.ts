/**
 * Test worker: attaches a MemoryBlockIndexReader to the owner's buffers and answers requests.
 *
 * - `lookup`: longestPrefix of the given keys → `result` with the matches as entries.
 * - `speculate`: recordSpeculative through the write port → `speculated`.
 * - `hammer`: reads one key in a tight loop until `stop[0]` is set (publishing its read count in
 *   `stop[1]`), checking that every answer lists exactly the pods that hold the key throughout
 *   → `hammered` with counts of reads, torn answers and give-ups.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { MemoryIndexBuffers } from '../../../src/index-store/shared-layout.ts';
import { MemoryBlockIndexReader } from '../../../src/index-store/memory-index-reader.ts';

export interface ReaderWorkerData {
  readonly entry: string;
  readonly buffers: MemoryIndexBuffers;
  readonly writePort?: MessagePort;
}

export type ReaderRequest =
  | { type: 'lookup'; keys: BigUint64Array; podIds?: string[] }
  | { type: 'speculate'; podId: string; keys: BigUint64Array; ttlMs?: number }
  | { type: 'hammer'; key: bigint; stablePods: string[]; stop: SharedArrayBuffer };

const data = workerData as ReaderWorkerData;
const reader = MemoryBlockIndexReader.attach(
  data.buffers,
  data.writePort ? { writePort: data.writePort } : {},
);
const port = parentPort!;

port.on('message', (request: ReaderRequest) => {
  switch (request.type) {
    case 'lookup':
      port.postMessage({ type: 'result', entries: [...reader.longestPrefix(request.keys, request.podIds)] });
      break;
    case 'speculate':
      reader.recordSpeculative(request.podId, request.keys, request.ttlMs);
      port.postMessage({ type: 'speculated' });
      break;
    case 'hammer': {
      const stop = new Int32Array(request.stop);
      const keys = [request.key];
      let reads = 0;
      let torn = 0;
      let gaveUp = 0;
      while (Atomics.load(stop, 0) === 0) {
        const match = reader.longestPrefix(keys);
        reads++;
        if ((reads & 255) === 0) Atomics.store(stop, 1, reads); // progress, for the owner
        if (match.size === 0) {
          gaveUp++; // the record stayed busy past the retry bound: reported as absent, by design
          continue;
        }
        const complete =
          match.size === request.stablePods.length &&
          request.stablePods.every((pod) => match.get(pod)?.blocks === 1);
        if (!complete) torn++;
      }
      port.postMessage({ type: 'hammered', reads, torn, gaveUp });
      break;
    }
  }
});
