/**
 * Micro-benchmark of one scheduling decision with a named config (default: the router's default,
 * `kvedge`): 6,000-token text prompts (4,800 shared per group of 5 + 1,200 unique, like llm-d's
 * shared-prefix workload), 8 and 64 endpoints with varied load, every decision dispatched so the
 * prefix index fills up. Text prompts have no block keys, so only the approximate producer matches.
 *
 * With `--keyed`, every request also carries its 64-token block keys (as the router's tokenization
 * workers produce them, computed outside the timed region) and the scheduler reads a real KV-event
 * block index in which each group's system prompt is held by one pod: the precise path a router with
 * tokenizers and KV events takes. Configs that only hash text (llm-d-well-lit) ignore the keys.
 *
 * Run: npx tsx bench/micro/scheduler.bench.ts [iterations] [named config, e.g. llm-d-well-lit] [--keyed]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { EndpointSnapshot, FleetView } from '../../src/fleet/types.ts';
import { DEFAULT_POLICY, namedConfigs, type NamedConfig } from '../../src/scheduler/config/defaults.ts';
import { loadNamedConfig } from '../../src/scheduler/config/loader.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';
import { SchedulerBlockIndex } from '../des/scheduler-block-index.ts';
import type { SchedulingRequest } from '../../src/scheduler/types.ts';

const args = process.argv.slice(2).filter((a) => a !== '--keyed');
const KEYED = process.argv.includes('--keyed');
const ITERATIONS = Number(args[0] ?? 3000);
const CONFIG = (args[1] ?? DEFAULT_POLICY) as NamedConfig;
if (!Object.hasOwn(namedConfigs, CONFIG)) {
  console.error(`unknown config '${CONFIG}'; known: ${Object.keys(namedConfigs).join(', ')}`);
  process.exit(2);
}
const WARMUP = 500;
const BYTES_PER_TOKEN = 4;

function textOf(tag: string, tokens: number): string {
  let out = '';
  for (let i = 0; out.length < tokens * BYTES_PER_TOKEN; i++) out += `${tag}:${i} `;
  return out.slice(0, tokens * BYTES_PER_TOKEN);
}

function endpoints(n: number, seed: number): EndpointSnapshot[] {
  const random = createRandom(seed);
  return Array.from({ length: n }, (_, i) => ({
    info: {
      id: `10.0.${i >> 8}.${i & 255}:8000`,
      host: `10.0.${i >> 8}.${i & 255}`,
      port: 8000,
      labels: {},
      models: [],
    },
    healthy: true,
    metrics: {
      waitingQueueSize: random.nextInt(10),
      runningRequestsSize: random.nextInt(64),
      kvCacheUsagePercent: random.next() * 0.9,
      blockSize: 16,
      numGpuBlocks: 40_000,
      activeLoras: [],
      waitingLoras: [],
      maxActiveLoras: null,
      updatedAtMs: 0,
    },
    inflight: { requests: random.nextInt(32), tokens: random.nextInt(200_000) },
    servedModels: [],
  }));
}

const GROUPS = 150;
const systemPrompts = Array.from({ length: GROUPS }, (_, g) => Buffer.from(textOf(`system-${g}`, 4800)));

/**
 * A request as the edge would hand it over: the prompt is a fresh flat string (as JSON.parse
 * produces), created outside the timed region and dropped after dispatch, so neither V8 rope
 * flattening nor survivor copying of pre-built prompts distorts the measurement.
 */
function requestFor(i: number): SchedulingRequest {
  const question = Buffer.from(textOf(`question-${i}`, 1200));
  const promptText = Buffer.concat([systemPrompts[i % GROUPS] as Buffer, question]).toString('utf8');
  return {
    requestId: `r${i}`,
    targetModel: 'Qwen/Qwen3-32B',
    promptText,
    promptTokenEstimate: 6000,
    headers: {},
    ...(KEYED ? { blockKeys: blockKeysFor(i) } : {}),
  };
}

const KEY_BLOCK = 64;
const SYSTEM_BLOCKS = 4800 / KEY_BLOCK;
const QUESTION_BLOCKS = Math.floor(6000 / KEY_BLOCK) - SYSTEM_BLOCKS;

/** Distinct 64-bit keys: group g's system blocks are shared, each question's blocks are its own. */
function blockKeysFor(i: number): bigint[] {
  const group = BigInt(i % GROUPS);
  const keys: bigint[] = [];
  for (let b = 0; b < SYSTEM_BLOCKS; b++) keys.push((group << 32n) | BigInt(b + 1));
  for (let b = 0; b < QUESTION_BLOCKS; b++) keys.push((1n << 62n) | (BigInt(i) << 16n) | BigInt(b));
  return keys;
}

/** A block index in which group g's system prompt sits on endpoint g mod n, as KV events would say. */
function keyedState(fleet: FleetView) {
  const index = MemoryBlockIndex.create({ blockSize: KEY_BLOCK, maxPods: 128, sweepIntervalMs: 0 });
  for (let g = 0; g < GROUPS; g++) {
    const pod = fleet.endpoints[g % fleet.endpoints.length] as EndpointSnapshot;
    index.add(pod.info.id, 'GPU', blockKeysFor(g).slice(0, SYSTEM_BLOCKS), null);
  }
  const reader = new SchedulerBlockIndex(index);
  return createInMemoryState({ blockIndex: reader, speculativeBlockIndex: reader });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function run(endpointCount: number): void {
  const fleet: FleetView = { endpoints: endpoints(endpointCount, 7), nowMs: 0 };
  const { scheduler } = loadNamedConfig(CONFIG, KEYED ? { state: keyedState(fleet) } : {});
  const random = createRandom(1);
  const durations: number[] = [];
  const cpu: number[] = [];
  const dispatch: number[] = [];
  const perPlugin = new Map<string, number>();

  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    const req = requestFor(i);
    const measure = i >= WARMUP;
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    const decision = scheduler.schedule(req, fleet, { random });
    const mid = performance.now();
    const cpuUsed = process.cpuUsage(cpuStart);
    scheduler.recordDispatch(req, decision, 0);
    const end = performance.now();
    if (measure) {
      durations.push(mid - start);
      // CPU time is less distorted than wall time when other processes share the cores.
      cpu.push((cpuUsed.user + cpuUsed.system) / 1000);
      dispatch.push(end - mid);
    }
  }

  // Separate pass with per-plugin timing (the timer itself adds overhead, so it is not in the totals above).
  for (let i = 0; i < 500; i++) {
    const req = requestFor(100_000 + i);
    scheduler.schedule(req, fleet, {
      random,
      timer: () => performance.now(),
      onPluginTiming: (t) =>
        perPlugin.set(t.pluginName, (perPlugin.get(t.pluginName) ?? 0) + t.durationMs / 500),
    });
  }

  durations.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  dispatch.sort((a, b) => a - b);
  const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;
  console.log(
    `${String(endpointCount).padStart(2)} endpoints: schedule p50 ${us(percentile(durations, 50))}, ` +
      `p99 ${us(percentile(durations, 99))}, max ${us(durations.at(-1) as number)} ` +
      `(CPU p50 ${us(percentile(cpu, 50))}, p99 ${us(percentile(cpu, 99))}); ` +
      `recordDispatch p50 ${us(percentile(dispatch, 50))}, p99 ${us(percentile(dispatch, 99))}`,
  );
  console.log(
    '   mean per plugin: ' +
      [...perPlugin]
        .sort((a, b) => b[1] - a[1])
        .map(([name, ms]) => `${name} ${us(ms)}`)
        .join(', '),
  );
}

console.log(
  `config ${CONFIG}, 6000-token prompts${KEYED ? ' with block keys and a KV-event index' : ''}, ${ITERATIONS} decisions after ${WARMUP} warm-up ` +
    `(node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)} on ${os.availableParallelism()} cores)`,
);
run(8);
run(64);
