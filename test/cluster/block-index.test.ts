import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../../src/cluster/cluster-state.ts';
import { encodeChanges } from '../../src/cluster/index-change.ts';
import { RedisProcess, waitFor } from './support/redis-process.ts';
import {
  lookupKeys,
  matched,
  MODEL,
  prefill,
  removed,
  startReplica,
  startReplicas,
  testConfig,
} from './support/replicas.ts';

const POD = '10.0.0.1:8000';
const POD2 = '10.0.0.2:8000';

let redis: RedisProcess;
let admin: Redis;
const running: ClusterState[] = [];

beforeAll(async () => {
  redis = await RedisProcess.start();
  admin = new Redis(redis.port, '127.0.0.1');
});

afterAll(async () => {
  admin.disconnect();
  await redis.stop();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((replica) => replica.close()));
});

async function replicas(count: number, config = testConfig()): Promise<ClusterState[]> {
  const list = await startReplicas(count, { ...config, url: redis.url });
  running.push(...list);
  return list;
}

/** Stream entries written by pod owners (versioned), all shards. */
async function ownerEntries(prefix: string, pod: string): Promise<number> {
  const entries = (await admin.xrange(`${prefix}{ix0}:log`, '-', '+')) as [string, string[]][];
  return entries.filter(([, fields]) => {
    const f = new Map<string, string>();
    for (let i = 0; i < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
    return f.get('p') === pod && f.get('v') !== '0';
  }).length;
}

describe('cluster block index', () => {
  it("makes a batch ingested through the owning replica visible in the others' mirrors, applied once", async () => {
    const config = testConfig();
    const [a, b, c] = await replicas(3, config);
    const { prompt, events } = prefill(1, 12, 4);
    // Every replica is dialled to the pod and receives the same batch (vLLM PUB fan-out).
    await a!.ingestor.applyBatch(POD, MODEL, events);
    await Promise.all([b, c].map((r) => r!.ingestor.applyBatch(POD, MODEL, events)));

    expect(matched(a!, POD, prompt)).toBe(12);
    await waitFor(() => matched(b!, POD, prompt) === 12 && matched(c!, POD, prompt) === 12, 3000);

    // Applied once for the cluster: one owner, one versioned write for the batch (after the
    // snapshot marker that opened the pod's epoch).
    expect(a!.counters.batchesOwned).toBe(1);
    expect(b!.counters.batchesOwned + c!.counters.batchesOwned).toBe(0);
    expect(b!.counters.batchesFollowed + c!.counters.batchesFollowed).toBe(2);
    expect(await ownerEntries(config.keyPrefix!, POD)).toBe(2);

    // Removals flow the same way.
    const batch2 = [removed([1_000_009n, 1_000_010n, 1_000_011n, 1_000_012n])];
    for (const r of [a!, b!, c!]) await r.ingestor.applyBatch(POD, MODEL, batch2);
    await waitFor(() => [a!, b!, c!].every((r) => matched(r, POD, prompt) === 8), 3000);
    expect(await ownerEntries(config.keyPrefix!, POD)).toBe(3);
  });

  it('lets a replica started later converge from Redis without the pod replaying anything', async () => {
    const config = testConfig();
    const [a] = await replicas(1, config);
    const one = prefill(2, 20, 5);
    const two = prefill(3, 6);
    await a!.ingestor.applyBatch(POD, MODEL, one.events);
    await a!.ingestor.applyBatch(POD2, MODEL, two.events);
    await a!.ingestor.applyBatch(POD, MODEL, [removed([2_000_020n])]);
    await waitFor(async () => (await ownerEntries(config.keyPrefix!, POD)) === 3, 2000);

    const late = await startReplica({ ...config, url: redis.url }, 'late');
    running.push(late);
    // Converged at startup, from snapshots alone: it received no KV event and no replay.
    expect(late.counters.podResyncs).toBe(2);
    expect(late.counters.batchesOwned + late.counters.batchesFollowed).toBe(0);
    expect(matched(late, POD, one.prompt)).toBe(19);
    expect(matched(late, POD2, two.prompt)).toBe(6);
    // Engine mappings came along: a later removal by engine hash, applied through the stream, works.
    await a!.ingestor.applyBatch(POD, MODEL, [removed([2_000_010n])]);
    await waitFor(() => matched(late, POD, one.prompt) === 9, 3000);
    // And so do speculative entries recorded by any replica.
    const fresh = prefill(4, 3);
    late.index.recordSpeculative(POD2, lookupKeys(fresh.prompt), 5000);
    await waitFor(() => matched(a!, POD2, fresh.prompt) === 3, 3000);
  });

  it('hands a dead owner’s pods to another replica, replaying the batches it never wrote', async () => {
    const config = testConfig();
    const [a, b] = await replicas(2, config);
    const first = prefill(5, 8);
    for (const r of [a!, b!]) await r.ingestor.applyBatch(POD, MODEL, first.events);
    await waitFor(() => matched(b!, POD, first.prompt) === 8, 3000);

    a!.destroy(); // crash: the lease stays until it expires
    running.splice(running.indexOf(a!), 1);
    const second = prefill(6, 4);
    // Events keep coming while the lease is still A's: B buffers them.
    await b!.ingestor.applyBatch(POD, MODEL, second.events);
    expect(b!.counters.batchesFollowed).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const third = prefill(7, 2);
    await b!.ingestor.applyBatch(POD, MODEL, third.events);

    expect(b!.counters.leasesAcquired).toBe(1);
    expect(b!.counters.handoverReplayedBatches).toBe(1);
    expect(b!.counters.handoverGaps).toBe(0);
    expect(matched(b!, POD, first.prompt)).toBe(8);
    expect(matched(b!, POD, second.prompt)).toBe(4);
    expect(matched(b!, POD, third.prompt)).toBe(2);

    // The takeover is durable: a new replica sees everything.
    const c = await startReplica({ ...config, url: redis.url }, 'c');
    running.push(c);
    expect([first, second, third].map((p) => matched(c, POD, p.prompt))).toEqual([8, 4, 2]);
  });

  it('reloads a pod from its snapshot when the stream skips versions, instead of applying out of order', async () => {
    const config = testConfig();
    const [a, b] = await replicas(2, config);
    const base = prefill(8, 4);
    await a!.ingestor.applyBatch(POD, MODEL, base.events);
    await waitFor(() => matched(b!, POD, base.prompt) === 4, 3000);
    const [epoch, version] = await admin.hmget(`${config.keyPrefix}{ix0}:pod:${POD}:meta`, 'e', 'v');
    // An entry two versions ahead (as if the reader had missed one to trimming): B must not apply it.
    const bogus = prefill(9, 3);
    await admin.xadd(
      `${config.keyPrefix}{ix0}:log`,
      '*',
      'p',
      POD,
      'e',
      epoch!,
      'v',
      Number(version) + 2,
      'r',
      'intruder',
      'd',
      encodeChanges([
        { op: 'add', tier: 0, keys: lookupKeys(bogus.prompt), engineKeys: new BigUint64Array(0) },
      ]),
    );
    const resyncs = b!.counters.podResyncs;
    await waitFor(() => b!.counters.podResyncs > resyncs, 3000);
    expect(matched(b!, POD, bogus.prompt)).toBe(0);
    expect(matched(b!, POD, base.prompt)).toBe(4);
    // The owner's next write is in sequence again and applies normally.
    const next = prefill(10, 2);
    await a!.ingestor.applyBatch(POD, MODEL, next.events);
    await waitFor(() => matched(b!, POD, next.prompt) === 2, 3000);
  });

  it('hands pods over at once on a clean shutdown', async () => {
    const config = testConfig({ index: { leaseTtlMs: 30_000 } });
    const [a, b] = await replicas(2, config);
    const first = prefill(11, 4);
    for (const r of [a!, b!]) await r.ingestor.applyBatch(POD, MODEL, first.events);
    await waitFor(() => matched(b!, POD, first.prompt) === 4, 3000);
    const seen = b!.counters.changesApplied;
    await a!.close();
    running.splice(running.indexOf(a!), 1);
    expect(await admin.exists(`${config.keyPrefix}{ix0}:lease:${POD}`)).toBe(0);
    await waitFor(() => b!.counters.changesApplied > seen, 3000); // the release announcement
    // Well inside the 30 s lease TTL, B takes over on its next batch, with nothing to replay.
    const second = prefill(12, 3);
    await b!.ingestor.applyBatch(POD, MODEL, second.events);
    expect(b!.counters.batchesOwned).toBe(1);
    expect(b!.counters.handoverGaps).toBe(0);
    expect(matched(b!, POD, first.prompt)).toBe(4);
    expect(matched(b!, POD, second.prompt)).toBe(3);
  });
});
