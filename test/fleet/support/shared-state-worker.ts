/**
 * Worker-thread side of the shared-state tests: an acceptor thread attached to the owner's
 * buffer. It stays up and runs scenarios sent with postMessage (booting a TypeScript worker is
 * the slow part), answering with postMessage.
 */
import { parentPort } from 'node:worker_threads';
import { SharedFleetState, type EndpointSlotRef } from '../../../src/fleet/shared-state.ts';
import { SEQLOCK_BASE_TIME, type WorkerTask } from './workers.ts';

const port = parentPort as NonNullable<typeof parentPort>;

port.on('message', (task: WorkerTask) => {
  run(task).catch((error: unknown) => port.postMessage({ type: 'error', message: String(error) }));
});
port.postMessage({ type: 'booted' });

async function run(task: WorkerTask): Promise<void> {
  const state = SharedFleetState.attach(task.buffer);
  try {
    await state.ready();
    const control = new Int32Array(task.control);
    const refOf = (id: string): EndpointSlotRef => {
      const ref = state.refOf(id);
      if (ref === undefined) throw new Error(`worker does not know endpoint ${id}`);
      return ref;
    };
    if (task.scenario === 'inflight') inflight(state, task, control, task.endpointIds.map(refOf));
    else if (task.scenario === 'seqlock') seqlock(state, task, control);
    else staleRelease(state, control, refOf(task.endpointIds[0] as string));
  } finally {
    state.close();
  }
}

/** Many acquire/release pairs after a common start signal, leaving a known residue. */
function inflight(
  state: SharedFleetState,
  task: WorkerTask,
  control: Int32Array,
  refs: EndpointSlotRef[],
): void {
  port.postMessage({ type: 'ready' });
  Atomics.wait(control, 0, 0);
  let failures = 0;
  for (let i = 0; i < task.iterations; i++) {
    const ref = refs[i % refs.length] as EndpointSlotRef;
    const tokens = ((i * 7) % 100) + 1;
    if (!state.acquireInflight(ref, tokens)) failures++;
    // Sometimes hold two at once before releasing.
    if (i % 3 === 0) {
      if (!state.acquireInflight(ref, 11)) failures++;
      if (!state.releaseInflight(ref, 11)) failures++;
    }
    if (!state.releaseInflight(ref, tokens)) failures++;
  }
  const held = 10 + task.workerIndex;
  for (const ref of refs) {
    for (let i = 0; i < held; i++) if (!state.acquireInflight(ref, 5)) failures++;
  }
  port.postMessage({ type: 'done', failures, held });
}

/** Snapshots in a loop until told to stop, checking every record's internal consistency. */
function seqlock(state: SharedFleetState, task: WorkerTask, control: Int32Array): void {
  const id = task.endpointIds[0] as string;
  let reads = 0;
  let torn = 0;
  let lastWaiting = -1;
  const examples: string[] = [];
  port.postMessage({ type: 'ready' });
  while (Atomics.load(control, 1) === 0) {
    const endpoint = state.snapshot().endpoints.find((e) => e.info.id === id);
    const m = endpoint?.metrics;
    if (endpoint === undefined || m == null) continue;
    reads++;
    const k = m.waitingQueueSize;
    const consistent =
      m.runningRequestsSize === k + 1 &&
      m.blockSize === k + 2 &&
      m.numGpuBlocks === k + 3 &&
      m.maxActiveLoras === k + 4 &&
      m.updatedAtMs === SEQLOCK_BASE_TIME + k &&
      Math.round(m.kvCacheUsagePercent * 1e6) === (k % 1000) * 1000 &&
      endpoint.healthy === (k % 2 === 0);
    if (!consistent) {
      torn++;
      if (examples.length < 3) examples.push(JSON.stringify({ healthy: endpoint.healthy, ...m }));
    }
    if (k !== lastWaiting) {
      lastWaiting = k;
      Atomics.add(control, 2, 1);
    }
  }
  port.postMessage({ type: 'done', reads, torn, examples });
}

/** Holds requests on an endpoint, waits until the owner replaced it, then releases them late. */
function staleRelease(state: SharedFleetState, control: Int32Array, old: EndpointSlotRef): void {
  let acquired = 0;
  for (let i = 0; i < 3; i++) if (state.acquireInflight(old, 100)) acquired++;
  port.postMessage({ type: 'held', ref: old, acquired });
  Atomics.wait(control, 0, 0);
  const released = [0, 1, 2].map(() => state.releaseInflight(old, 100));
  const reacquired = state.acquireInflight(old, 100);
  port.postMessage({ type: 'done', released, reacquired, inflight: state.inflightOf(old) ?? null });
}
