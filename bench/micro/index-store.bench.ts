/**
 * Micro-benchmark of the index store: `npx tsx bench/micro/index-store.bench.ts`.
 *
 * Measures, on this machine:
 * - ingestion into the in-memory index from decoded KV events (block keys computed from token ids,
 *   engine mappings recorded), and end to end from a vLLM-style ZeroMQ publisher through the
 *   subscriber (publisher, subscriber and index in this one process and thread);
 * - `longestPrefix` for 375 and 2 000 keys (6k and 32k-token prompts at block 16) with 8 pods
 *   holding the whole prefix, plus the cost of computing those keys;
 * - memory per million blocks.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { BlockStored, KvEvent } from '../../src/kv-protocol/events.ts';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { KvEventIngestor } from '../../src/index-store/kv-event-ingestor.ts';
import { KvEventSubscriber } from '../../src/index-store/kv-event-subscriber.ts';
import { MemoryBlockIndex, estimateMemoryBytes } from '../../src/index-store/memory-index.ts';
import { KvEventPublisher } from '../../src/sim/kv-events/publisher.ts';

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

async function ingestionFromDecoded(): Promise<void> {
  const index = MemoryBlockIndex.create({ capacityKeys: 1 << 21, sweepIntervalMs: 0 });
  const ingestor = new KvEventIngestor(index);
  const warm = MemoryBlockIndex.create({ capacityKeys: 1 << 16, sweepIntervalMs: 0 });
  for (const events of Array.from({ length: 50 }, (_, r) => requestEvents(900_000 + r, 250, 16))) {
    await new KvEventIngestor(warm).applyBatch('warm', MODEL, events);
  }
  warm.close();
  // Two passes of 2 000 requests × 250 blocks into a 2M-key table: the first also pays the first
  // touch (page faults) of the fresh shared buffer, the second runs on a warm table.
  for (const pass of ['fresh table', 'warm table']) {
    const requests = Array.from({ length: 2000 }, (_, r) =>
      requestEvents((pass === 'warm table' ? 5000 : 1) + r, 250, 16),
    );
    const before = ingestor.counters.blocksStored;
    const start = performance.now();
    for (let r = 0; r < requests.length; r++) await ingestor.applyBatch(`pod-${r % 8}`, MODEL, requests[r]!);
    const seconds = (performance.now() - start) / 1000;
    const blocks = ingestor.counters.blocksStored - before;
    report(
      `ingest from decoded events, keys computed (${pass})`,
      `${fmt(blocks / seconds)} blocks/s (${blocks} blocks)`,
    );
  }

  // The index alone: adds with precomputed keys, into a fresh table and then a warm one.
  const bare = MemoryBlockIndex.create({ capacityKeys: 1 << 21, sweepIntervalMs: 0 });
  for (const pass of ['fresh table', 'warm table']) {
    const requests = Array.from({ length: 2000 }, (_, r) =>
      requestEvents((pass === 'warm table' ? 20_000 : 10_000) + r, 250, 16),
    );
    const keys = requests.map((events) =>
      computeBlockKeys(
        events.flatMap((e) => e.tokenIds),
        BLOCK,
        blockKeyRoot(MODEL, null, null),
      ),
    );
    const hashes = requests.map((events) => events.flatMap((e) => e.blockHashes));
    let blocks = 0;
    const t0 = performance.now();
    for (let r = 0; r < keys.length; r++) {
      for (let b = 0; b < keys[r]!.length; b += 16) {
        bare.add(`pod-${r % 8}`, 'GPU', keys[r]!.subarray(b, b + 16), hashes[r]!.slice(b, b + 16));
        blocks += Math.min(16, keys[r]!.length - b);
      }
    }
    const s0 = (performance.now() - t0) / 1000;
    report(`index.add alone, 16 keys + engine keys per call (${pass})`, `${fmt(blocks / s0)} blocks/s`);
  }
  index.close();
  bare.close();
}

async function ingestionOverZeroMq(): Promise<void> {
  const index = MemoryBlockIndex.create({ capacityKeys: 1 << 21, sweepIntervalMs: 0 });
  const publisher = await KvEventPublisher.open({
    endpoint: 'tcp://127.0.0.1:*',
    topic: `kv@bench@${MODEL}`,
  });
  const subscriber = new KvEventSubscriber({ index });
  subscriber.addPod('bench', publisher.endpoint, null, MODEL);
  while ((subscriber.status()[0]?.lastSequence ?? null) === null) {
    publisher.publish({ ts: 0, events: [], dataParallelRank: null });
    await delay(20);
  }
  await delay(100);
  const base = subscriber.ingestor.counters.blocksStored;
  // vLLM publishes one batch per engine step; give each batch the events of 4 requests.
  const requests = Array.from({ length: 1500 }, (_, r) => requestEvents(10_000 + r, 250, 16));
  const batches: KvEvent[][] = [];
  for (let r = 0; r < requests.length; r += 4) batches.push(requests.slice(r, r + 4).flat());
  const expected = requests.reduce(
    (n, events) => n + events.reduce((m, e) => m + e.blockHashes.length, 0),
    0,
  );
  const start = performance.now();
  for (const events of batches) {
    publisher.publish({ ts: Date.now() / 1000, events, dataParallelRank: null });
    if (publisher.nextSequence % 16n === 0n) await delay(0); // let the subscriber run between bursts
  }
  while (subscriber.ingestor.counters.blocksStored - base < expected) {
    if (performance.now() - start > 120_000) throw new Error('end-to-end ingestion did not finish');
    await delay(1);
  }
  const seconds = (performance.now() - start) / 1000;
  report(
    'ingest end to end over ZeroMQ (encode + PUB/SUB + decode + index, one thread)',
    `${fmt(expected / seconds)} blocks/s (${expected} blocks, gaps ${subscriber.counters.gaps})`,
  );
  await subscriber.close();
  await publisher.close();
  index.close();
}

function lookups(): void {
  const index = MemoryBlockIndex.create({ capacityKeys: 1 << 20, sweepIntervalMs: 0 });
  // Background: 8 pods with 50k blocks each, so the table is not trivially small.
  for (let p = 0; p < 8; p++) {
    const tokens = Array.from({ length: 50_000 * BLOCK }, (_, i) => (p * 1_000_003 + i * 7) % 150_000);
    index.add(
      `10.0.0.${p}:8000`,
      'GPU',
      computeBlockKeys(tokens, BLOCK, blockKeyRoot(MODEL, null, null)),
      null,
    );
  }
  for (const blocks of [375, 2000]) {
    const tokens = Array.from({ length: blocks * BLOCK }, (_, i) => (i * 13 + blocks) % 150_000);
    const root = blockKeyRoot(MODEL, null, null);
    const keys = computeBlockKeys(tokens, BLOCK, root);
    for (let p = 0; p < 8; p++) index.add(`10.0.0.${p}:8000`, p % 2 ? 'CPU' : 'GPU', keys, null);
    const match = index.longestPrefix(keys);
    if (match.size !== 8 || match.get('10.0.0.0:8000')!.blocks !== blocks)
      throw new Error('unexpected match');
    const hashUs = median(200, () => computeBlockKeys(tokens, BLOCK, root));
    const lookupUs = median(2000, () => index.longestPrefix(keys));
    const partial = keys.slice(0, blocks); // a prompt that diverges halfway
    partial.set(
      computeBlockKeys(
        tokens.map((t) => t + 1),
        BLOCK,
        keys[blocks / 2 - 1] ?? root,
      ).subarray(0, blocks / 2),
      Math.floor(blocks / 2),
    );
    const partialUs = median(2000, () => index.longestPrefix(partial));
    report(`longestPrefix, ${blocks} keys, 8 pods hold all (median)`, `${fmt(lookupUs)} µs`);
    report(`longestPrefix, ${blocks} keys, 8 pods hold the first half (median)`, `${fmt(partialUs)} µs`);
    report(`computeBlockKeys, ${blocks * BLOCK} tokens (median)`, `${fmt(hashUs)} µs`);
  }
  index.close();
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
  return samples[iterations >> 1]!;
}

function memory(): void {
  const million = 1_000_000;
  for (const slots of [8, 4]) {
    const bytes = estimateMemoryBytes(million, slots, million);
    report(
      `memory per 1M blocks (slotsPerKey ${slots}, engine map 1M)`,
      `${fmt(bytes / 2 ** 20)} MiB (${SharedLayoutBytes(slots)} B/key shared + 4 B/key age + 24 B/engine mapping)`,
    );
  }
  const index = MemoryBlockIndex.create({
    capacityKeys: million,
    engineCapacity: million,
    sweepIntervalMs: 0,
  });
  const tokens = Array.from({ length: million * BLOCK }, (_, i) => (i * 7) % 150_000);
  const keys = computeBlockKeys(tokens, BLOCK, blockKeyRoot(MODEL, null, null));
  const hashes = Array.from(keys, (k) => k ^ 0x5555n);
  for (let b = 0; b < million; b += 1000)
    index.add('pod', 'GPU', keys.subarray(b, b + 1000), hashes.slice(b, b + 1000));
  const stats = index.stats();
  report(
    'index with capacity 1M keys, 1M blocks added',
    `memoryBytes ${fmt(stats.memoryBytes / 2 ** 20)} MiB (incl. fixed pod table and speculative queue), keys held ${fmt(stats.keys)}, evicted ${fmt(stats.evictedKeys)}, engine mappings ${fmt(stats.engineMappings)} (evicted ${fmt(stats.evictedEngineMappings)})`,
  );
  index.close();
}

function SharedLayoutBytes(slots: number): number {
  return 12 + 4 * slots;
}

await ingestionFromDecoded();
await ingestionOverZeroMq();
lookups();
memory();

console.log(`| measurement | result |\n|---|---|`);
for (const [what, value] of rows) console.log(`| ${what} | ${value} |`);
console.log(`\nNode ${process.version}, ${new Date().toISOString()}`);
