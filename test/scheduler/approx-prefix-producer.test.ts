import { xxh64 } from '@node-rs/xxhash';
import { describe, expect, it } from 'vitest';
import type { EndpointSnapshot } from '../../src/fleet/types.ts';
import { SchedulerConfigError } from '../../src/scheduler/config/config-error.ts';
import { loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import type { BlockIndexReader } from '../../src/scheduler/producers/block-index-reader.ts';
import { approxPrefixCacheProducerPlugin } from '../../src/scheduler/producers/approx-prefix-cache-producer.ts';
import type { ApproxPrefixData } from '../../src/scheduler/producers/approx-prefix-cache-producer.ts';
import { InMemoryPrefixIndexStore } from '../../src/scheduler/producers/in-memory-prefix-index-store.ts';
import { promptBlockHashes } from '../../src/scheduler/producers/prompt-block-hashes.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';
import type { DataProducer } from '../../src/scheduler/types.ts';
import { buildPlugin, cycleFor, dispatchOf, endpoint, fleet, NOW, request, text } from './fixtures.ts';

/** The §2.7 reference chain, written out independently of the implementation. */
function referenceHashes(model: string, salt: string, bytes: Uint8Array, blockTokens: number): bigint[] {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  let prev = xxh64(new TextEncoder().encode(model + salt));
  const out: bigint[] = [];
  for (let off = 0; off < padded.length; off += blockTokens * 4) {
    const blk = xxh64(padded.slice(off, off + blockTokens * 4));
    const pair = new DataView(new ArrayBuffer(16));
    pair.setBigUint64(0, blk, true);
    pair.setBigUint64(8, prev, true);
    prev = xxh64(new Uint8Array(pair.buffer));
    out.push(prev);
  }
  return out;
}

describe('prompt block hashes (llm-d-router.md §2.7)', () => {
  it('chains xxhash64 over 4-byte pseudo-tokens, seeded by model and salt, hashing a padded partial block', () => {
    const prompt = text('sys', 64 * 4 * 2 + 6); // two full 64-token blocks and a 6-byte tail
    const hashes = promptBlockHashes({ targetModel: 'm', cacheSalt: 's', promptText: prompt }, 64, Infinity);
    expect(hashes).toHaveLength(3);
    expect(hashes).toEqual(referenceHashes('m', 's', Buffer.from(prompt), 64));
  });

  it('hashes real token ids as little-endian uint32 and respects maxBlocks', () => {
    const tokenIds = Array.from({ length: 200 }, (_, i) => i * 7919);
    const bytes = new Uint8Array(new Uint32Array(tokenIds).buffer); // little-endian on supported platforms
    const hashes = promptBlockHashes({ targetModel: 'm', promptText: 'ignored', tokenIds }, 64, 2);
    expect(hashes).toEqual(referenceHashes('m', '', bytes, 64).slice(0, 2));
  });

  it('differs by model', () => {
    const a = promptBlockHashes({ targetModel: 'a', promptText: 'x'.repeat(300) }, 64, Infinity);
    const b = promptBlockHashes({ targetModel: 'b', promptText: 'x'.repeat(300) }, 64, Infinity);
    expect(a[0]).not.toBe(b[0]);
  });
});

describe('in-memory prefix index', () => {
  it('counts only consecutive blocks from the start per endpoint', () => {
    const index = new InMemoryPrefixIndexStore();
    index.add('A', [1n, 2n, 3n], 100);
    index.add('B', [2n, 3n], 100); // lacks block 0
    index.add('C', [1n, 3n], 100); // lacks block 1
    expect(Object.fromEntries(index.longestPrefix([1n, 2n, 3n, 4n]))).toEqual({ A: 3, C: 1 });
  });
});

function producerWith(params: object = {}) {
  const index = new InMemoryPrefixIndexStore();
  const state = { ...createInMemoryState(), prefixIndex: () => index };
  return {
    producer: buildPlugin<DataProducer, unknown>(approxPrefixCacheProducerPlugin, params, state),
    index,
  };
}

const BLOCK_BYTES = 64 * 4;
const system = text('system', 90 * BLOCK_BYTES);

function produce(producer: DataProducer, promptText: string, endpoints: EndpointSnapshot[]) {
  const cycle = cycleFor(request({ promptText }), fleet(endpoints));
  const produced = producer.produce(cycle, endpoints);
  cycle.setProducerData(producer.name, produced.value);
  return { cycle, data: produced.value as ApproxPrefixData };
}

describe('approx-prefix-cache-producer', () => {
  const eps = [endpoint('A'), endpoint('B')];

  it('reports the dispatched endpoint as holding the shared prefix of the next prompt', () => {
    const { producer } = producerWith();
    const first = produce(producer, system + text('q1', 10 * BLOCK_BYTES), eps);
    expect(first.data.matches.size).toBe(0);
    producer.onDispatch?.(dispatchOf(first.cycle, 'A'));

    const second = produce(producer, system + text('q2', 10 * BLOCK_BYTES), eps);
    expect(second.data.totalBlocks).toBe(100);
    expect(second.data.matches.get('A')).toBe(90);
    expect(second.data.matches.get('B')).toBeUndefined();
  });

  it('also records the target of a profile named prefill', () => {
    const { producer, index } = producerWith();
    const first = produce(producer, system, eps);
    const event = dispatchOf(first.cycle, 'A', 'decode');
    producer.onDispatch?.({
      ...event,
      decision: {
        ...event.decision,
        profileResults: { decode: { targets: ['A'] }, prefill: { targets: ['B'] } },
      },
    });
    expect(index.blockCount('A')).toBe(90);
    expect(index.blockCount('B')).toBe(90);
  });

  it('uses the engine block size with a 64-token floor, or the configured one', () => {
    const small = [endpoint('A', { metrics: { blockSize: 16 } })];
    const large = [endpoint('A', { metrics: { blockSize: 128 } })];
    const prompt = text('p', 128 * 4 * 4); // 512 pseudo-tokens
    expect(produce(producerWith().producer, prompt, small).data.blockSizeTokens).toBe(64);
    expect(produce(producerWith().producer, prompt, large).data).toMatchObject({
      blockSizeTokens: 128,
      totalBlocks: 4,
    });
    const manual = producerWith({ autoTune: false, blockSizeTokens: 256 }).producer;
    expect(produce(manual, prompt, large).data).toMatchObject({ blockSizeTokens: 256, totalBlocks: 2 });
    const tooSmall = producerWith({ autoTune: false, blockSizeTokens: 16 }).producer;
    expect(produce(tooSmall, prompt, large).data.blockSizeTokens).toBe(64);
  });

  it('caps hashed blocks at maxPrefixTokensToMatch / blockSize', () => {
    const { producer } = producerWith({ maxPrefixTokensToMatch: 640 });
    expect(produce(producer, system, eps).data.totalBlocks).toBe(10);
  });

  it('evicts an endpoint’s least recently recorded blocks beyond num_gpu_blocks, keeping prefixes', () => {
    const { producer, index } = producerWith();
    const small = [endpoint('A', { metrics: { numGpuBlocks: 150 } })];
    const r1 = system + text('q1', 10 * BLOCK_BYTES); // 100 blocks
    const first = produce(producer, r1, small);
    producer.onDispatch?.(dispatchOf(first.cycle, 'A'));
    const other = produce(producer, text('other', 100 * BLOCK_BYTES), small); // 100 unrelated blocks
    producer.onDispatch?.(dispatchOf(other.cycle, 'A'));

    expect(index.blockCount('A')).toBe(150);
    // r1's 50 tail blocks were the least recent; its first 50 survive.
    expect(produce(producer, r1, small).data.matches.get('A')).toBe(50);
    expect(produce(producer, text('other', 100 * BLOCK_BYTES), small).data.matches.get('A')).toBe(100);
  });

  it('uses lruCapacityPerServer when autoTune is off', () => {
    const { producer, index } = producerWith({
      autoTune: false,
      blockSizeTokens: 64,
      lruCapacityPerServer: 30,
    });
    const first = produce(producer, system, eps);
    producer.onDispatch?.(dispatchOf(first.cycle, 'A'));
    expect(index.blockCount('A')).toBe(30);
  });

  it('forgets endpoints that left the fleet', () => {
    const { producer, index } = producerWith();
    const first = produce(producer, system, eps);
    producer.onDispatch?.(dispatchOf(first.cycle, 'A'));
    producer.retainEndpoints?.(new Set(['B']));
    expect(index.endpointIds()).toEqual([]);
    expect(produce(producer, system, eps).data.matches.size).toBe(0);
  });
});

describe('approx-prefix-cache-producer as a fallback (fallbackFor)', () => {
  const CONFIG = `
plugins:
- type: precise-prefix-cache-producer
  parameters: {tokenProcessorConfig: {blockSizeTokens: 64}}
- type: approx-prefix-cache-producer
  parameters: {fallbackFor: [precise-prefix-cache-producer]}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: approx-prefix-cache-producer}
`;
  const eps = [endpoint('A'), endpoint('B')];
  // An index that holds nothing: the precise producer still produces data (zero matches) for keyed requests.
  const reader: BlockIndexReader = { longestPrefix: () => new Map() };

  function scheduler() {
    const index = new InMemoryPrefixIndexStore();
    const state = { ...createInMemoryState({ blockIndex: reader }), prefixIndex: () => index };
    return { scheduler: loadSchedulerConfig(CONFIG, { state }).scheduler, index };
  }

  it('neither hashes nor records a request the precise producer answered', () => {
    const { scheduler: s, index } = scheduler();
    const keyed = request({ promptText: system, blockKeys: [1n, 2n, 3n] });
    const decision = s.schedule(keyed, fleet(eps), { random: createRandom(1) });
    const approx = decision.trace.producers.find((p) => p.producer === 'approx-prefix-cache-producer');
    expect(approx?.summary).toEqual({ info: 'none', skippedFor: 'precise-prefix-cache-producer' });
    s.recordDispatch(keyed, decision, NOW);
    expect(index.endpointIds()).toEqual([]);
  });

  it('hashes, records and matches a request without block keys as before', () => {
    const { scheduler: s, index } = scheduler();
    const first = request({ promptText: system + text('q1', 10 * BLOCK_BYTES) });
    const decision = s.schedule(first, fleet(eps), { random: createRandom(1) });
    s.recordDispatch(first, decision, NOW);
    const target = decision.endpointId as string;
    expect(index.blockCount(target)).toBe(100);
    const second = s.schedule(request({ promptText: system + text('q2', 10 * BLOCK_BYTES) }), fleet(eps), {
      random: createRandom(2),
    });
    const approx = second.trace.producers.find((p) => p.producer === 'approx-prefix-cache-producer');
    expect(approx?.summary).toMatchObject({ totalBlocks: 100, matchedBlocks: { [target]: 90 } });
    expect(second.endpointId).toBe(target);
  });

  it('rejects a fallback listed before its primary, naming itself, or naming a missing producer', () => {
    const before = `
plugins:
- type: approx-prefix-cache-producer
  parameters: {fallbackFor: [precise-prefix-cache-producer]}
- type: precise-prefix-cache-producer
`;
    expect(() => loadSchedulerConfig(before)).toThrow(
      /'approx-prefix-cache-producer' reads 'precise-prefix-cache-producer', which must be listed before it/,
    );
    const self = `
plugins:
- type: approx-prefix-cache-producer
  parameters: {fallbackFor: [approx-prefix-cache-producer]}
`;
    expect(() => loadSchedulerConfig(self)).toThrow(SchedulerConfigError);
    const missing = `
plugins:
- type: approx-prefix-cache-producer
  parameters: {fallbackFor: [nope]}
`;
    expect(() => loadSchedulerConfig(missing)).toThrow(/reads data producer 'nope', which is not configured/);
  });
});
