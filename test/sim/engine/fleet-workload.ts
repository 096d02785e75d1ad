/**
 * A W1-shaped fleet run for measuring the engine's own speed: N engines on one virtual clock,
 * requests sharing long group prefixes, Poisson arrivals, round-robin routing. Deterministic
 * (seeded), no wall-clock dependence except the measurement itself.
 */
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import type { KvEvent } from '../../../src/kv-protocol/events.ts';
import { createEngine, type SimEngine } from '../../../src/sim/engine/engine.ts';
import { engineConfigFor } from '../../../src/sim/engine/timing-profiles.ts';
import type { BlockHashFn, RequestObserver, RequestResult } from '../../../src/sim/engine/types.ts';
import { VirtualClock } from '../../../src/sim/engine/virtual-clock.ts';
import { sha256BlockHash } from './helpers.ts';

export interface FleetOptions {
  readonly engines: number;
  readonly requestsPerEngine: number;
  readonly systemTokens: number;
  readonly questionTokens: number;
  readonly outputTokens: number;
  readonly groups: number;
  readonly blockSize: number;
  /** Fleet-wide arrival rate (requests per engine-second). */
  readonly rate: number;
  readonly profile: string;
  readonly seed: number;
  /** Block hasher; defaults to the sha256 stand-in. */
  readonly hashBlock?: BlockHashFn;
  /** Listen to KV events (building them costs a token copy per stored block); default true. */
  readonly kvEvents?: boolean;
}

export interface FleetSummary {
  readonly wallSeconds: number;
  /** Process CPU time (user + system, all threads) during the run: steadier than wall time on a shared machine. */
  readonly cpuSeconds: number;
  readonly simSeconds: number;
  readonly requests: number;
  readonly finished: number;
  readonly steps: number;
  readonly hashCalls: number;
  readonly kvEvents: number;
  readonly preemptions: number;
  readonly meanTtft: number;
  readonly hitRate: number;
  readonly engines: readonly SimEngine[];
}

/**
 * A cheap chained 64-bit FNV-1a block hash (two 32-bit lanes), to measure the engine without
 * sha256's cost. Not for correctness tests: 64 bits only.
 */
export const fnvBlockHash: BlockHashFn = (parent, tokens) => {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  if (parent !== null) {
    for (let i = 0; i < parent.length; i++) {
      a = Math.imul(a ^ parent[i]!, 0x01000193);
      b = Math.imul(b ^ parent[i]!, 0x811c9dc5 | 1);
    }
  }
  for (const t of tokens) {
    a = Math.imul(a ^ t, 0x01000193);
    b = Math.imul(b ^ (t >>> 3), 0x5bd1e995);
  }
  // Written byte by byte: touching `.buffer` would move this small array off-heap.
  const out = new Uint8Array(8);
  for (let i = 0; i < 4; i++) {
    out[i] = (a >>> (8 * i)) & 0xff;
    out[4 + i] = (b >>> (8 * i)) & 0xff;
  }
  return out;
};

/** mulberry32: a tiny seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function runFleet(options: FleetOptions): FleetSummary {
  const random = rng(options.seed);
  const clock = new VirtualClock();
  let kvEvents = 0;
  const onKvEvents = (events: readonly KvEvent[]): void => {
    kvEvents += events.length;
  };
  const config = engineConfigFor(options.profile, { blockSize: options.blockSize });
  const engines = Array.from({ length: options.engines }, () =>
    createEngine(config, clock, {
      hashBlock: options.hashBlock ?? sha256BlockHash,
      hooks: options.kvEvents === false ? {} : { onKvEvents },
    }),
  );
  const systems = Array.from({ length: options.groups }, (_, g) =>
    Array.from({ length: options.systemTokens }, (_, i) => 1 + ((g * 7919 + i * 31) % 120_000)),
  );
  const outputs = Array.from({ length: options.outputTokens }, (_, i) => 200_000 + i);
  const results: RequestResult[] = [];
  const observer: RequestObserver = { onToken: () => {}, onFinish: (r) => results.push(r) };

  const total = options.engines * options.requestsPerEngine;
  let t = 0;
  for (let i = 0; i < total; i++) {
    t += -Math.log(1 - random()) / options.rate;
    const system = systems[Math.floor(random() * options.groups)]!;
    const questionSeed = Math.floor(random() * 2 ** 31);
    const engine = engines[i % engines.length]!;
    clock.setTimer(t, () => {
      // Built at arrival so that only in-flight prompts are alive (8,000 x 6,000 ids at once
      // would make this a garbage-collector benchmark).
      const question = rng(questionSeed);
      const prompt = system.concat(
        Array.from({ length: options.questionTokens }, () => 1 + Math.floor(question() * 120_000)),
      );
      engine.submit(
        {
          id: `r${i}`,
          promptTokenIds: prompt,
          maxTokens: options.outputTokens,
          loraName: null,
          cacheSalt: null,
          outputTokenIds: outputs,
        },
        observer,
      );
    });
  }

  const start = performance.now();
  const cpuStart = process.cpuUsage();
  clock.runUntilIdle();
  const cpu = process.cpuUsage(cpuStart);
  const wallSeconds = (performance.now() - start) / 1000;

  let steps = 0;
  let hashCalls = 0;
  let preemptions = 0;
  let queries = 0;
  let hits = 0;
  for (const e of engines) {
    const s = e.stats();
    steps += s.stepsTotal;
    preemptions += s.preemptionsTotal;
    hashCalls += e.internals().hashCalls;
  }
  for (const r of results) {
    queries += r.promptTokens;
    hits += r.cachedTokens;
  }
  return {
    wallSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    simSeconds: clock.now(),
    requests: total,
    finished: results.length,
    steps,
    hashCalls,
    kvEvents,
    preemptions,
    meanTtft: results.reduce((s, r) => s + (r.firstTokenTime - r.arrivalTime), 0) / results.length,
    hitRate: hits / queries,
    engines,
  };
}
