/**
 * Router replicas for cluster-state tests: independent `ClusterState` instances (each with its own
 * connections and mirror, like separate processes) with timings shrunk so that leases, TTLs and
 * failovers play out within a test, plus builders for vLLM KV-event batches.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createClusterState, type ClusterState } from '../../../src/cluster/cluster-state.ts';
import type { ClusterStateConfigInput } from '../../../src/cluster/config.ts';
import { blockKeyRoot, computeBlockKeys } from '../../../src/index-store/block-keys.ts';
import type { BlockRemoved, BlockStored, KvEvent } from '../../../src/kv-protocol/events.ts';

export const MODEL = 'Qwen/Qwen3-0.6B';
export const BLOCK = 16;

const logger = pino({ level: process.env['KVEDGE_TEST_LOG'] ?? 'silent' });

/**
 * Settings scaled down for tests: 1 s leases, local ingestion 300 ms into an outage, 600 ms
 * in-flight TTL, 50 ms publish/poll.
 */
export function testConfig(overrides: ClusterStateConfigInput = {}): ClusterStateConfigInput {
  return {
    keyPrefix: `t${randomBytes(3).toString('hex')}:`,
    commandTimeoutMs: 300,
    connectTimeoutMs: 500,
    healthCheckIntervalMs: 100,
    startupTimeoutMs: 5000,
    ...overrides,
    index: { leaseTtlMs: 1000, localIngestAfterMs: 300, readBlockMs: 200, ...overrides.index },
    inflight: { publishIntervalMs: 50, pollIntervalMs: 50, ttlMs: 600, ...overrides.inflight },
  };
}

/** Starts `count` replicas sharing `config` (same key prefix), each named r0, r1, .... */
export async function startReplicas(count: number, config: ClusterStateConfigInput): Promise<ClusterState[]> {
  const out: ClusterState[] = [];
  for (let i = 0; i < count; i++) out.push(await startReplica(config, `r${i}`));
  return out;
}

export function startReplica(config: ClusterStateConfigInput, replicaId: string): Promise<ClusterState> {
  return createClusterState({ ...config, replicaId }, logger, {
    mirrorOptions: { capacityKeys: 1 << 16, sweepIntervalMs: 0 },
  });
}

export function tokens(n: number, seed = 1): number[] {
  return Array.from({ length: n }, (_, i) => (seed * 7919 + i * 31) % 150_000);
}

/** The request keys the router computes for a prompt. */
export function lookupKeys(prompt: readonly number[]): BigUint64Array {
  return computeBlockKeys(prompt, BLOCK, blockKeyRoot(MODEL, null, null));
}

export function stored(
  hashes: bigint[],
  tokenIds: number[],
  parentBlockHash: bigint | null = null,
  medium = 'GPU',
): BlockStored<bigint> {
  return {
    type: 'BlockStored',
    blockHashes: hashes,
    parentBlockHash,
    tokenIds,
    blockSize: BLOCK,
    loraId: null,
    medium,
    loraName: null,
    extraKeys: null,
  };
}

export function removed(hashes: bigint[], medium = 'GPU'): BlockRemoved<bigint> {
  return { type: 'BlockRemoved', blockHashes: hashes, medium };
}

/**
 * One request's prefill as vLLM reports it: `blocks` blocks of prompt `seed`, one BlockStored per
 * `perEvent` blocks, chained by parent hash. Engine hashes are `seed·10⁶ + i + 1`.
 */
export function prefill(
  seed: number,
  blocks: number,
  perEvent = blocks,
): { prompt: number[]; events: KvEvent<bigint>[] } {
  const prompt = tokens(blocks * BLOCK, seed);
  const events: KvEvent<bigint>[] = [];
  let parent: bigint | null = null;
  for (let b = 0; b < blocks; b += perEvent) {
    const n = Math.min(perEvent, blocks - b);
    const hashes = Array.from({ length: n }, (_, i) => BigInt(seed) * 1_000_000n + BigInt(b + i + 1));
    events.push(stored(hashes, prompt.slice(b * BLOCK, (b + n) * BLOCK), parent));
    parent = hashes[n - 1]!;
  }
  return { prompt, events };
}

/** Matched blocks of `pod` for `prompt` in a replica's mirror (0 when none). */
export function matched(replica: ClusterState, pod: string, prompt: readonly number[]): number {
  return replica.index.longestPrefix(lookupKeys(prompt)).get(pod)?.blocks ?? 0;
}
