import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEndpointInfo } from '../../src/fleet/discovery/endpoint-info.ts';
import { SharedFleetState } from '../../src/fleet/shared-state.ts';
import type { EndpointMetrics } from '../../src/fleet/types.ts';
import { waitFor } from './support/wait.ts';
import { SEQLOCK_BASE_TIME, startWorker, type TestWorker, type WorkerTask } from './support/workers.ts';

const endpoint = (port: number, labels: Record<string, string> = {}) =>
  createEndpointInfo({ host: '10.0.0.1', port, labels, kvEventsEndpoint: `tcp://10.0.0.1:${port + 1000}` });

const metrics = (overrides: Partial<EndpointMetrics> = {}): EndpointMetrics => ({
  waitingQueueSize: 3,
  runningRequestsSize: 7,
  kvCacheUsagePercent: 0.418215,
  blockSize: 16,
  numGpuBlocks: 27153,
  activeLoras: ['a', 'b'],
  waitingLoras: ['c'],
  maxActiveLoras: 2,
  updatedAtMs: 1_756_023_845_123,
  ...overrides,
});

const states: SharedFleetState[] = [];
afterEach(() => {
  for (const state of states.splice(0)) state.close();
});

function owner(capacity = 16): SharedFleetState {
  const state = SharedFleetState.create(capacity);
  states.push(state);
  return state;
}

async function reader(buffer: SharedArrayBuffer): Promise<SharedFleetState> {
  const state = SharedFleetState.attach(buffer);
  states.push(state);
  await state.ready();
  return state;
}

describe('SharedFleetState in one thread', () => {
  it('round-trips health, metrics, LoRA lists and served models into snapshots', async () => {
    const state = owner();
    const info = endpoint(8000, { 'llm-d.ai/role': 'decode' });
    state.addEndpoint(info);
    let [snapshot] = state.snapshot(5).endpoints;
    expect(snapshot).toEqual({
      info,
      healthy: false,
      metrics: null,
      inflight: { requests: 0, tokens: 0 },
      servedModels: [],
    });

    state.publishStatus(info.id, true, metrics());
    state.setServedModels(info.id, ['llama', 'llama-lora']);
    const view = state.snapshot(42);
    expect(view.nowMs).toBe(42);
    [snapshot] = view.endpoints;
    expect(snapshot?.healthy).toBe(true);
    expect(snapshot?.metrics).toEqual(metrics());
    expect(snapshot?.servedModels).toEqual(['llama', 'llama-lora']);
    // Unchanged records yield the same metrics object: per-request snapshots stay cheap.
    expect(state.snapshot().endpoints[0]?.metrics).toBe(snapshot?.metrics);
  });

  it('stores kv usage with micro precision and clamps out-of-range integers', () => {
    const state = owner();
    state.addEndpoint(endpoint(8000));
    state.publishStatus(
      '10.0.0.1:8000',
      true,
      metrics({ kvCacheUsagePercent: 0.1234567, waitingQueueSize: -4, blockSize: null }),
    );
    const m = state.snapshot().endpoints[0]?.metrics;
    expect(m?.kvCacheUsagePercent).toBe(0.123457);
    expect(m?.waitingQueueSize).toBe(0);
    expect(m?.blockSize).toBeNull();
  });

  it('bumps the generation when a slot is reused, so stale refs cannot touch the new endpoint', () => {
    const state = owner(1);
    const oldRef = state.addEndpoint(endpoint(8000));
    expect(state.acquireInflight(oldRef, 100)).toBe(true);
    expect(state.acquireInflight(oldRef, 50)).toBe(true);
    expect(state.inflightOf(oldRef)).toEqual({ requests: 2, tokens: 150 });

    expect(state.removeEndpoint('10.0.0.1:8000')).toBe(true);
    expect(state.snapshot().endpoints).toEqual([]);
    const newRef = state.addEndpoint(endpoint(9000));
    expect(newRef.slot).toBe(oldRef.slot);
    expect(newRef.generation).not.toBe(oldRef.generation);

    expect(state.releaseInflight(oldRef, 100)).toBe(false);
    expect(state.acquireInflight(oldRef, 100)).toBe(false);
    expect(state.inflightOf(oldRef)).toBeUndefined();
    expect(state.inflightOf(newRef)).toEqual({ requests: 0, tokens: 0 });
    expect(state.acquireInflight(newRef, 7)).toBe(true);
    expect(state.snapshot().endpoints.map((e) => [e.info.id, e.inflight])).toEqual([
      ['10.0.0.1:9000', { requests: 1, tokens: 7 }],
    ]);
    expect(state.refOf('10.0.0.1:8000')).toBeUndefined();
    expect(state.refOf('10.0.0.1:9000')).toEqual(newRef);
  });

  it('never lets a release drive counters below zero', () => {
    const state = owner();
    const ref = state.addEndpoint(endpoint(8000));
    state.releaseInflight(ref, 10);
    expect(state.acquireInflight(ref, 3)).toBe(true);
    expect(state.inflightOf(ref)).toEqual({ requests: 1, tokens: 3 });
  });

  it('refuses duplicates, overflow, reader writes and foreign buffers with clear errors', async () => {
    const state = owner(2);
    state.addEndpoint(endpoint(1));
    expect(() => state.addEndpoint(endpoint(1))).toThrow(
      'endpoint 10.0.0.1:1 is already in the shared fleet table',
    );
    state.addEndpoint(endpoint(2));
    expect(() => state.addEndpoint(endpoint(3))).toThrow('shared fleet table is full (2 endpoints)');
    expect(() => state.publishStatus('nope:1', true, null)).toThrow(
      'endpoint nope:1 is not in the shared fleet table',
    );
    const attached = await reader(state.buffer);
    expect(() => attached.addEndpoint(endpoint(4))).toThrow(
      'only the owner thread may change the shared fleet table',
    );
    expect(() => SharedFleetState.attach(new SharedArrayBuffer(64))).toThrow(
      'not a kvedge shared fleet buffer',
    );
    expect(() => SharedFleetState.create(0)).toThrow(RangeError);
    expect(() => state.acquireInflight({ slot: 2, generation: 1 }, 1)).toThrow(
      'slot 2 outside the fleet table',
    );
  });

  it('publishes identities to attached readers, including later changes and removals', async () => {
    const state = owner();
    state.addEndpoint(endpoint(8000));
    state.publishStatus('10.0.0.1:8000', true, metrics());
    const attached = await reader(state.buffer);
    expect(attached.snapshot(1)).toEqual(state.snapshot(1));

    state.addEndpoint(endpoint(8001));
    state.updateEndpointInfo(endpoint(8000, { zone: 'b' }));
    state.publishStatus('10.0.0.1:8000', true, metrics({ activeLoras: ['z'] }));
    await waitFor(() => attached.snapshot().endpoints.length === 2, 'the new endpoint on the reader');
    await waitFor(() => attached.snapshot().endpoints[0]?.metrics?.activeLoras[0] === 'z', 'the LoRA update');
    expect(attached.snapshot(2)).toEqual(state.snapshot(2));
    expect(attached.snapshot().endpoints[0]?.info.labels).toEqual({ zone: 'b' });

    // In-flight counts are shared immediately, without messages.
    const ref = attached.refOf('10.0.0.1:8001');
    expect(ref).toBeDefined();
    attached.acquireInflight(ref!, 40);
    expect(state.snapshot().endpoints[1]?.inflight).toEqual({ requests: 1, tokens: 40 });

    state.removeEndpoint('10.0.0.1:8000');
    // The buffer says "gone" at once, even before the reader gets the message.
    expect(attached.snapshot().endpoints.map((e) => e.info.id)).toEqual(['10.0.0.1:8001']);
    await waitFor(() => attached.refOf('10.0.0.1:8000') === undefined, 'the removal message');
    expect(attached.size).toBe(1);
  });
});

describe('SharedFleetState across worker threads', () => {
  // Three acceptor threads, booted once for all scenarios (booting TypeScript workers is slow).
  let workers: TestWorker[] = [];
  beforeAll(async () => {
    workers = await Promise.all([startWorker(), startWorker(), startWorker()]);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.worker.terminate()));
  });

  const task = (
    fields: Partial<WorkerTask> & Pick<WorkerTask, 'scenario' | 'buffer' | 'control'>,
  ): WorkerTask => ({
    endpointIds: [],
    iterations: 0,
    workerIndex: 0,
    ...fields,
  });

  it('gives exact in-flight totals when several threads acquire and release concurrently', async () => {
    const state = owner();
    const ids = ['10.0.0.1:8000', '10.0.0.1:8001', '10.0.0.1:8002'];
    const refs = ids.map((_, i) => state.addEndpoint(endpoint(8000 + i)));
    const control = new SharedArrayBuffer(16);
    workers.forEach((worker, workerIndex) =>
      worker.run(
        task({
          scenario: 'inflight',
          buffer: state.buffer,
          control,
          endpointIds: ids,
          iterations: 20_000,
          workerIndex,
        }),
      ),
    );
    await Promise.all(workers.map((w) => w.next('ready')));
    const words = new Int32Array(control);
    Atomics.store(words, 0, 1);
    Atomics.notify(words, 0);
    // The owner thread dispatches too.
    for (let i = 0; i < 20_000; i++) {
      const ref = refs[i % refs.length]!;
      state.acquireInflight(ref, 13);
      state.releaseInflight(ref, 13);
    }
    const results = await Promise.all(workers.map((w) => w.next<{ failures: number; held: number }>('done')));
    expect(results.map((r) => r.failures)).toEqual([0, 0, 0]);
    const held = results.reduce((sum, r) => sum + r.held, 0);
    expect(held).toBe(10 + 11 + 12);
    for (const ref of refs) expect(state.inflightOf(ref)).toEqual({ requests: held, tokens: held * 5 });
    for (const snapshot of state.snapshot().endpoints)
      expect(snapshot.inflight).toEqual({ requests: held, tokens: held * 5 });
  });

  it('never shows a reader a torn metrics record while the owner rewrites it', async () => {
    const state = owner();
    const info = endpoint(8000);
    state.addEndpoint(info);
    const write = (k: number): void =>
      state.publishStatus(
        info.id,
        k % 2 === 0,
        metrics({
          waitingQueueSize: k,
          runningRequestsSize: k + 1,
          kvCacheUsagePercent: (k % 1000) / 1000,
          blockSize: k + 2,
          numGpuBlocks: k + 3,
          maxActiveLoras: k + 4,
          updatedAtMs: SEQLOCK_BASE_TIME + k,
          activeLoras: [],
          waitingLoras: [],
        }),
      );
    write(0);
    const control = new SharedArrayBuffer(16);
    const words = new Int32Array(control);
    const readers = workers.slice(0, 2);
    for (const reader of readers)
      reader.run(task({ scenario: 'seqlock', buffer: state.buffer, control, endpointIds: [info.id] }));
    await Promise.all(readers.map((r) => r.next('ready')));
    // Keep rewriting until the readers have observed plenty of distinct versions mid-flight.
    for (let k = 1; k < 50_000_000 && (k < 100_000 || Atomics.load(words, 2) < 4_000); k++) write(k);
    Atomics.store(words, 1, 1);
    const results = await Promise.all(
      readers.map((r) => r.next<{ reads: number; torn: number; examples: string[] }>('done')),
    );
    expect(Atomics.load(words, 2)).toBeGreaterThanOrEqual(4_000);
    for (const result of results) {
      expect(result.examples).toEqual([]);
      expect(result.torn).toBe(0);
      expect(result.reads).toBeGreaterThan(0);
    }
  });

  it('ignores a late release for a removed endpoint whose slot now serves another', async () => {
    const state = owner(1);
    const a = endpoint(8000);
    state.addEndpoint(a);
    const control = new SharedArrayBuffer(16);
    const worker = workers[0]!;
    worker.run(task({ scenario: 'stale-release', buffer: state.buffer, control, endpointIds: [a.id] }));
    const held = await worker.next<{ acquired: number; ref: { slot: number; generation: number } }>('held');
    expect(held.acquired).toBe(3);
    expect(state.inflightOf(held.ref)).toEqual({ requests: 3, tokens: 300 });

    state.removeEndpoint(a.id);
    const bRef = state.addEndpoint(endpoint(9000));
    expect(bRef.slot).toBe(held.ref.slot);
    state.acquireInflight(bRef, 1);

    const words = new Int32Array(control);
    Atomics.store(words, 0, 1);
    Atomics.notify(words, 0);
    const done = await worker.next<{ released: boolean[]; reacquired: boolean; inflight: unknown }>('done');
    expect(done.released).toEqual([false, false, false]);
    expect(done.reacquired).toBe(false);
    expect(done.inflight).toBeNull();
    expect(state.inflightOf(bRef)).toEqual({ requests: 1, tokens: 1 });
  });
});
