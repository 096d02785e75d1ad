/**
 * Micro-benchmark of the Redis cluster state: `npx tsx bench/micro/cluster-state.bench.ts`.
 *
 * Starts its own `redis-server` on a free port (never 6379) and two replicas (two `ClusterState`
 * instances in this process, each with its own connections and mirror), then measures:
 * - KV-event ingestion through Redis: blocks/s applied by the owning replica and visible in the
 *   other replica's mirror (end to end: ingest, fenced write + stream, XREAD, mirror apply);
 * - the same ingestion into a bare in-memory index, for reference;
 * - the decision path: `longestPrefix` on the cluster index (its local mirror) against the
 *   in-memory index, and the Redis commands issued while doing lookups (should be none);
 * - whole routing decisions (`schedule()`, then `recordDispatch`) with the bench's llm-d-precise
 *   and llm-d-well-lit configs, on the router's Redis-backed scheduler state (`schedulerState()`,
 *   in-flight merged with the peers' as the router does) against the in-memory state;
 * - in-flight propagation: time from `acquire` on one replica to the other replica seeing it.
 *
 * Numbers depend on the machine; the lead's 2-core box shares CPU with Redis and both replicas.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createClusterState, type ClusterState } from '../../src/cluster/cluster-state.ts';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { KvEventIngestor } from '../../src/index-store/kv-event-ingestor.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import type { BlockStored } from '../../src/kv-protocol/events.ts';
import type { EndpointSnapshot, FleetView } from '../../src/fleet/types.ts';
import { BlockIndexView } from '../../src/routing/block-index-view.ts';
import { loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { createInMemoryState, type SchedulerStateFactory } from '../../src/scheduler/state.ts';
import type { SchedulingRequest } from '../../src/scheduler/types.ts';
import { policyByName } from '../policies/catalog.ts';
import { RedisProcess } from '../../test/cluster/support/redis-process.ts';

const MODEL = 'Qwen/Qwen3-0.6B';
const BLOCK = 16;
const rows: [string, string][] = [];

function report(what: string, value: string): void {
  rows.push([what, value]);
  console.error(`${what}: ${value}`);
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);
}

/** One request's prefill as vLLM reports it: BlockStored events of `perEvent` blocks, chained. */
function requestEvents(seed: number, blocks: number, perEvent: number): BlockStored<bigint>[] {
  const events: BlockStored<bigint>[] = [];
  let parent: bigint | null = null;
  for (let b = 0; b < blocks; b += perEvent) {
    const n = Math.min(perEvent, blocks - b);
    const hashes = Array.from({ length: n }, (_, i) => BigInt(seed) * 1_000_000n + BigInt(b + i + 1));
    const tokenIds = Array.from(
      { length: n * BLOCK },
      (_, i) => (seed * 7919 + (b * BLOCK + i) * 31) % 150_000,
    );
    events.push({
      type: 'BlockStored',
      blockHashes: hashes,
      parentBlockHash: parent,
      tokenIds,
      blockSize: BLOCK,
      loraId: null,
      medium: 'GPU',
      loraName: null,
      extraKeys: null,
    });
    parent = hashes[n - 1]!;
  }
  return events;
}

function promptKeys(events: readonly BlockStored<bigint>[]): BigUint64Array {
  return computeBlockKeys(
    events.flatMap((e) => e.tokenIds),
    BLOCK,
    blockKeyRoot(MODEL, null, null),
  );
}

function median(iterations: number, fn: () => unknown): number {
  for (let i = 0; i < Math.min(200, iterations); i++) fn();
  const samples = new Float64Array(iterations);
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    fn();
    samples[i] = (performance.now() - t) * 1000;
  }
  samples.sort();
  return samples[Math.floor(iterations / 2)]!;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/**
 * 1 200 requests × 250 blocks over 8 pods, one batch per request (16 blocks per BlockStored).
 * `yieldEach`: return to the event loop after every batch, as the ZeroMQ subscriber does between
 * messages (each batch is then its own write). Otherwise back to back: the event loop is blocked
 * for the whole run (seconds), commands time out, and owners fall back to republishing their pods
 * whole, a worst case rather than normal operation.
 */
async function ingestion(a: ClusterState, b: ClusterState, seed: number, yieldEach: boolean): Promise<void> {
  const requests = Array.from({ length: 1200 }, (_, r) => requestEvents(seed + r, 250, 16));
  const blocks = requests.length * 250;
  // Writes of one pod apply in order, so each pod's last request present means all of it is.
  const lastOfPod = Array.from({ length: 8 }, (_, p) => {
    const r = requests.length - 8 + p;
    return { pod: `pod-${r % 8}`, keys: promptKeys(requests[r]!) };
  });
  const published = a.counters.changesPublished;
  const applied0 = b.counters.changesApplied;
  const mode = yieldEach ? 'yielding after each batch' : 'batches back to back';
  const start = performance.now();
  for (let r = 0; r < requests.length; r++) {
    await a.ingestor.applyBatch(`pod-${r % 8}`, MODEL, requests[r]!);
    if (yieldEach) await new Promise((resolve) => setImmediate(resolve));
  }
  const applied = (performance.now() - start) / 1000;
  while (lastOfPod.some(({ pod, keys }) => (b.index.longestPrefix(keys).get(pod)?.blocks ?? 0) < 250)) {
    if (performance.now() - start > 120_000) throw new Error('the follower did not converge');
    await delay(1);
  }
  const mirrored = (performance.now() - start) / 1000;
  report(
    `ingest through Redis, ${mode}: applied by the owner (mirror + ledger + write queued)`,
    `${fmt(blocks / applied)} blocks/s (${blocks} blocks, ${requests.length} batches)`,
  );
  report(
    `ingest through Redis, ${mode}: in the other replica’s mirror (end to end)`,
    `${fmt(blocks / mirrored)} blocks/s (${fmt(mirrored * 1000)} ms)`,
  );
  report(
    `ingest through Redis, ${mode}: stream entries written / applied by the follower`,
    `${a.counters.changesPublished - published} / ${b.counters.changesApplied - applied0} (follower resyncs so far ${b.counters.podResyncs})`,
  );
}

async function ingestionReference(): Promise<void> {
  const blocks = 1200 * 250;
  const bare = MemoryBlockIndex.create({ capacityKeys: 1 << 20, sweepIntervalMs: 0 });
  const ingestor = new KvEventIngestor(bare);
  const fresh = Array.from({ length: 1200 }, (_, r) => requestEvents(100_000 + r, 250, 16));
  const t0 = performance.now();
  for (let r = 0; r < fresh.length; r++) await ingestor.applyBatch(`pod-${r % 8}`, MODEL, fresh[r]!);
  const s0 = (performance.now() - t0) / 1000;
  report('ingest into the in-memory index alone (reference)', `${fmt(blocks / s0)} blocks/s`);
  bare.close();
}

async function decisionPath(a: ClusterState, admin: Redis): Promise<void> {
  const reference = MemoryBlockIndex.create({ capacityKeys: 1 << 20, sweepIntervalMs: 0 });
  for (const blocks of [375, 2000]) {
    const events = requestEvents(7_000_000 + blocks, blocks, 16);
    const keys = promptKeys(events);
    for (let p = 0; p < 8; p++) {
      reference.add(`10.0.0.${p}:8000`, 'GPU', keys, null);
      a.index.mirror.add(`10.0.0.${p}:8000`, 'GPU', keys, null);
    }
    const memoryUs = median(2000, () => reference.longestPrefix(keys));
    const clusterUs = median(2000, () => a.index.longestPrefix(keys));
    const mirrorUs = median(2000, () => a.index.mirror.longestPrefix(keys));
    report(`longestPrefix ${blocks} keys, 8 pods: fresh in-memory index (median)`, `${fmt(memoryUs)} µs`);
    report(
      `longestPrefix ${blocks} keys, 8 pods: cluster index vs its mirror called directly (median)`,
      `${fmt(clusterUs)} vs ${fmt(mirrorUs)} µs (the mirror holds the 600k ingested blocks too)`,
    );
  }
  // Redis commands during 1 s of lookups and during 1 s without, same yield cadence (the
  // background: health PING, in-flight publish and poll, lease renewals of both replicas).
  const keys = promptKeys(requestEvents(7_000_375, 375, 16));
  const commands = async (): Promise<number> =>
    Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
  const window = async (lookupsPerTick: number): Promise<{ commands: number; lookups: number }> => {
    const c0 = await commands();
    let lookups = 0;
    const until = performance.now() + 1000;
    while (performance.now() < until) {
      for (let i = 0; i < lookupsPerTick; i++) a.index.longestPrefix(keys);
      lookups += lookupsPerTick;
      await delay(1);
    }
    return { commands: (await commands()) - c0 - 1, lookups };
  };
  await delay(2000); // let the ingestion's trailing writes settle
  const idle = await window(0);
  const busy = await window(20);
  report(
    'Redis commands in 1 s with lookups vs 1 s without',
    `${busy.commands} vs ${idle.commands} (${busy.lookups.toLocaleString('en-US')} lookups; longestPrefix is synchronous: 0 round trips per lookup)`,
  );
  reference.close();
}

/** Eight endpoints with varied load, named as the decision benchmarks' index entries. */
function fleetView(): FleetView {
  const endpoints: EndpointSnapshot[] = Array.from({ length: 8 }, (_, i) => ({
    info: { id: `10.0.1.${i}:8000`, host: `10.0.1.${i}`, port: 8000, labels: {}, models: [] },
    healthy: true,
    metrics: {
      waitingQueueSize: i % 3,
      runningRequestsSize: 8 + i,
      kvCacheUsagePercent: 0.1 * (i % 5),
      blockSize: BLOCK,
      numGpuBlocks: 40_000,
      activeLoras: [],
      waitingLoras: [],
      maxActiveLoras: null,
      updatedAtMs: 0,
    },
    inflight: { requests: i, tokens: 1000 * i },
    servedModels: [MODEL],
  }));
  return { endpoints, nowMs: 1 };
}

/**
 * Whole decisions as the router makes them: 6,000-token prompts (4,800 shared by each of 150
 * groups + 1,200 unique, as llm-d's shared-prefix workload), `schedule()` then `recordDispatch`
 * (speculative index insert, or prefix-history add: a Redis write with cluster state), yielding
 * to the event loop after each request so Redis replies are handled between decisions as they
 * are in the router. Every group's prefix is held by one endpoint (precise: in the block index).
 */
async function decisions(a: ClusterState): Promise<void> {
  const GROUPS = 150;
  const WARMUP = 300;
  const ITERATIONS = 3000;
  const root = blockKeyRoot(MODEL, null, null);
  const view = fleetView();
  const shared = Array.from({ length: GROUPS }, (_, g) =>
    Array.from({ length: 4800 }, (_, i) => (g * 7919 + i * 31 + 17) % 150_000),
  );
  const promptOf = (i: number): number[] =>
    shared[i % GROUPS]!.concat(Array.from({ length: 1200 }, (_, k) => (i * 104_729 + k * 13) % 150_000));
  const memoryIndex = MemoryBlockIndex.create({ capacityKeys: 1 << 20, sweepIntervalMs: 0 });
  for (let g = 0; g < GROUPS; g++) {
    const keys = computeBlockKeys(shared[g]!, BLOCK, root);
    const endpoint = view.endpoints[g % 8]!.info.id;
    memoryIndex.add(endpoint, 'GPU', keys, null);
    a.index.mirror.add(endpoint, 'GPU', keys, null);
  }
  const memoryView = new BlockIndexView(memoryIndex);
  const setups: { policy: string; state: string; build: () => SchedulerStateFactory; peers: boolean }[] = [];
  for (const policy of ['llm-d-precise', 'llm-d-well-lit']) {
    setups.push(
      {
        policy,
        state: 'in memory',
        build: () => createInMemoryState({ blockIndex: memoryView, speculativeBlockIndex: memoryView }),
        peers: false,
      },
      { policy, state: 'Redis cluster state', build: () => a.schedulerState(), peers: true },
    );
  }
  // Interleaved, one decision of each setup per request, so warm-up, GC and the machine's other
  // load fall on every setup alike (run one after the other, the first one paid for the JIT).
  const runs = setups.map((setup) => ({
    setup,
    scheduler: loadSchedulerConfig(policyByName(setup.policy).configYaml(BLOCK), { state: setup.build() })
      .scheduler,
    random: createRandom(1),
    schedule: [] as number[],
    dispatch: [] as number[],
  }));
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    const tokenIds = promptOf(i);
    const blockKeys = Array.from(computeBlockKeys(tokenIds, BLOCK, root));
    // Rotated: whichever setup goes first touches the fresh prompt first.
    for (let k = 0; k < runs.length; k++) {
      const run = runs[(i + k) % runs.length]!;
      const request: SchedulingRequest = {
        requestId: `${run.setup.policy}-${run.setup.state}-${i}`,
        targetModel: MODEL,
        promptText: '',
        promptTokenEstimate: tokenIds.length,
        tokenIds,
        blockKeys,
        headers: {},
      };
      const t0 = performance.now();
      const fleet = run.setup.peers ? a.inflight.withPeers(view) : view;
      const decision = run.scheduler.schedule(request, fleet, { random: run.random });
      const t1 = performance.now();
      run.scheduler.recordDispatch(request, decision, 1);
      const t2 = performance.now();
      if (i >= WARMUP) {
        run.schedule.push((t1 - t0) * 1000);
        run.dispatch.push((t2 - t1) * 1000);
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (const { setup, schedule, dispatch } of runs) {
    schedule.sort((x, y) => x - y);
    dispatch.sort((x, y) => x - y);
    report(
      `decision, ${setup.policy}, ${setup.state}: schedule() p50 / p99; recordDispatch p50 / p99`,
      `${fmt(percentile(schedule, 0.5))} / ${fmt(percentile(schedule, 0.99))} µs; ${fmt(percentile(dispatch, 0.5))} / ${fmt(percentile(dispatch, 0.99))} µs (${ITERATIONS} decisions, 6,000-token prompts, 8 endpoints)`,
    );
  }
  memoryIndex.close();
}

async function inflightPropagation(a: ClusterState, b: ClusterState): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < 300; i++) {
    const endpoint = `ep-${i % 4}`;
    const before = b.inflight.peers(endpoint).requests;
    const t = performance.now();
    a.inflight.acquire(endpoint, 100);
    while (b.inflight.peers(endpoint).requests === before)
      await new Promise((resolve) => setImmediate(resolve));
    samples.push((performance.now() - t) * 1000);
    a.inflight.release(endpoint, 100);
    await delay(2);
  }
  samples.sort((x, y) => x - y);
  report(
    'in-flight: acquire on one replica until the other sees it (p50 / p99)',
    `${fmt(percentile(samples, 0.5))} / ${fmt(percentile(samples, 0.99))} µs`,
  );
  const t = performance.now();
  for (let i = 0; i < 100_000; i++) b.inflight.total('ep-1');
  report(
    'in-flight: total() read (local, per call)',
    `${fmt(((performance.now() - t) * 1000) / 100_000)} µs`,
  );
}

/** One placement claim per new prompt: the round trip a long cold dispatch waits for. */
async function placementClaims(a: ClusterState, b: ClusterState): Promise<void> {
  const won: number[] = [];
  const taken: number[] = [];
  // A claim value as planClaim writes it for a 6,000-token prompt (24 checkpoints).
  const value = JSON.stringify({
    e: '10.0.0.1:8000',
    c: Array.from({ length: 24 }, (_, i) => [16 * (i + 1), 'f'.repeat(16)]),
  });
  for (let i = 0; i < 2000; i++) {
    const key = (BigInt(i) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let t = performance.now();
    const first = await a.placementClaims!.claim('bench-model', key, value);
    won.push((performance.now() - t) * 1000);
    t = performance.now();
    const second = await b.placementClaims!.claim('bench-model', key, value);
    taken.push((performance.now() - t) * 1000);
    if (first.kind !== 'won' || second.kind !== 'taken') throw new Error(`unexpected claim outcomes at ${i}`);
  }
  won.sort((x, y) => x - y);
  taken.sort((x, y) => x - y);
  report(
    'placement claim round trip (won / taken), p50 / p99',
    `${fmt(percentile(won, 0.5))} / ${fmt(percentile(won, 0.99))} µs; ${fmt(percentile(taken, 0.5))} / ${fmt(percentile(taken, 0.99))} µs (2,000 each, ${value.length}-byte value)`,
  );
}

async function main(): Promise<void> {
  const redis = await RedisProcess.start();
  const admin = new Redis(redis.port, '127.0.0.1');
  const logger = pino({ level: 'warn' });
  const config = { url: redis.url, keyPrefix: 'bench:' };
  const mirrorOptions = { capacityKeys: 1 << 20, sweepIntervalMs: 0 };
  const a = await createClusterState({ ...config, replicaId: 'a' }, logger, { mirrorOptions });
  const b = await createClusterState({ ...config, replicaId: 'b' }, logger, { mirrorOptions });
  try {
    await ingestion(a, b, 1, false);
    await ingestion(a, b, 10_000, true);
    await ingestionReference();
    await decisionPath(a, admin);
    // A replica of its own (fresh key prefix): its mirror holds the same blocks as the in-memory index.
    const c = await createClusterState(
      { url: redis.url, keyPrefix: 'bench-decisions:', replicaId: 'c' },
      logger,
      { mirrorOptions },
    );
    try {
      await decisions(c);
    } finally {
      await c.close();
    }
    await inflightPropagation(a, b);
    await placementClaims(a, b);
  } finally {
    await a.close();
    await b.close();
    admin.disconnect();
    await redis.stop();
  }
  console.log('| measurement | result |\n|---|---|');
  for (const [what, value] of rows) console.log(`| ${what} | ${value} |`);
  console.log(
    `\nnode ${process.version}, ${new Date().toISOString()}; command: npx tsx bench/micro/cluster-state.bench.ts`,
  );
}

await main();
