/**
 * An acceptor thread racing the others for placement claims: waits for the start signal, then
 * claims every key in order and reports each outcome.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ThreadClaimTable } from '../../../src/routing/thread-claim-table.ts';

export interface ClaimWorkerData {
  readonly entry: string;
  readonly buffer: SharedArrayBuffer;
  /** Int32 [0]: 0 = wait, 1 = go. */
  readonly control: SharedArrayBuffer;
  readonly keys: readonly string[];
  readonly name: string;
}

const data = workerData as ClaimWorkerData;
const table = ThreadClaimTable.attach(data.buffer, 60_000);
const control = new Int32Array(data.control);
parentPort!.postMessage({ type: 'ready' });
Atomics.wait(control, 0, 0);
const outcomes = data.keys.map((key) => table.claim('model', BigInt(`0x${key}`), `{"e":"${data.name}"}`));
parentPort!.postMessage({ type: 'done', outcomes });
