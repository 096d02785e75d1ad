/**
 * Long-lived test workers (real worker_threads running TypeScript through tsx) that act as
 * acceptor threads for the shared-state tests.
 */
import { Worker } from 'node:worker_threads';

/** updatedAtMs of the seqlock scenario's k-th write is this plus k (above 2^32: both words used). */
export const SEQLOCK_BASE_TIME = 1e12;

export interface WorkerTask {
  scenario: 'inflight' | 'seqlock' | 'stale-release';
  buffer: SharedArrayBuffer;
  /** Int32 control words: [0] start/continue flag, [1] stop flag, [2] versions seen by a reader. */
  control: SharedArrayBuffer;
  endpointIds: string[];
  iterations: number;
  workerIndex: number;
}

const boot = new URL('./ts-worker-boot.mjs', import.meta.url);
const entry = new URL('./shared-state-worker.ts', import.meta.url).href;

export interface TestWorker {
  readonly worker: Worker;
  run(task: WorkerTask): void;
  /** Resolves with the next message of the given type; rejects if the worker fails. */
  next<T = Record<string, unknown>>(type: string): Promise<T>;
}

export async function startWorker(): Promise<TestWorker> {
  const worker = new Worker(boot, { workerData: { entry } });
  const messages: Array<{ type: string; message?: string }> = [];
  const waiters: Array<{ type: string; resolve: (message: never) => void; reject: (error: Error) => void }> =
    [];
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
    for (const waiter of waiters.splice(0)) waiter.reject(failure);
  };
  worker.on('message', (message: { type: string; message?: string }) => {
    if (message.type === 'error') return fail(new Error(`worker: ${message.message}`));
    const index = waiters.findIndex((w) => w.type === message.type);
    if (index >= 0) waiters.splice(index, 1)[0]?.resolve(message as never);
    else messages.push(message);
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`worker exited with code ${code}`)));

  const handle: TestWorker = {
    worker,
    run(task) {
      worker.postMessage(task);
    },
    next<T>(type: string): Promise<T> {
      const queued = messages.findIndex((m) => m.type === type);
      if (queued >= 0) return Promise.resolve(messages.splice(queued, 1)[0] as T);
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise<T>((resolve, reject) => {
        waiters.push({ type, resolve: resolve as (message: never) => void, reject });
      });
    },
  };
  await handle.next('booted');
  return handle;
}
