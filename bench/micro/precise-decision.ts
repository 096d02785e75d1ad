/**
 * Precise-path decision time for long chat prompts: what the router spends before it can
 * dispatch a request routed by KV events, split into its parts:
 *   1. render the chat template + tokenize (tokenization worker, segment cache warm from earlier turns),
 *   2. block keys over the prompt,
 *   3. the scheduler (precise producer lookup in the shared-memory index + scorers + picker).
 * 8 endpoints; each conversation's earlier turns are indexed on one endpoint (as KV events would).
 *
 *   npx tsx bench/micro/precise-decision.ts [conversations=40]
 */
import { performance } from 'node:perf_hooks';
import type { EndpointSnapshot, FleetView } from '../../src/fleet/types.ts';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import { BlockIndexView } from '../../src/routing/block-index-view.ts';
import { loadNamedConfig } from '../../src/scheduler/config/loader.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import { createInMemoryState } from '../../src/scheduler/state.ts';
import type { SchedulingRequest } from '../../src/scheduler/types.ts';
import { TokenizationPool } from '../../src/workers/tokenization-pool.ts';

const CONVERSATIONS = Number(process.argv[2] ?? 40);
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const BLOCK = 16;

const endpoints: EndpointSnapshot[] = Array.from({ length: 8 }, (_, i) => ({
  info: { id: `10.0.0.${i}:8000`, host: `10.0.0.${i}`, port: 8000, labels: {}, models: [] },
  healthy: true,
  metrics: {
    waitingQueueSize: i % 3,
    runningRequestsSize: 8 + i,
    kvCacheUsagePercent: 0.1 * (i % 5),
    blockSize: BLOCK,
    numGpuBlocks: 27_500,
    activeLoras: [],
    waitingLoras: [],
    maxActiveLoras: null,
    updatedAtMs: 0,
  },
  inflight: { requests: i, tokens: 1000 * i },
  servedModels: [MODEL],
}));
const fleet: FleetView = { endpoints, nowMs: 1 };

/** A conversation of `words` words of system prompt, and a user turn. */
function messages(conv: number, words: number, turn: number) {
  const system = Array.from({ length: words }, (_, w) => `rule${conv}-${w % 997} item ${w}.`).join(' ');
  return [
    { role: 'system', content: system },
    { role: 'user', content: `Turn ${turn}: what does rule ${turn * 13} say about item ${turn}?` },
  ];
}

function pct(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const pool = new TokenizationPool({ threads: 1, preloadModels: ['llama3_1'] });
const index = MemoryBlockIndex.create({ capacityKeys: 2 ** 21, blockSize: BLOCK, sweepIntervalMs: 0 });
const view = new BlockIndexView(index);
const { scheduler } = loadNamedConfig('llm-d-precise', { state: createInMemoryState({ blockIndex: view }) });
const random = createRandom(1);
const root = blockKeyRoot(MODEL);

console.log(
  '| prompt | tokens | tokenize p50 / p99 ms | block keys p50 / p99 ms | schedule p50 / p99 ms | total p50 / p99 ms |',
);
console.log('|---|---|---|---|---|---|');
// This text is about 8 tokens per word: 735 and 3,620 words give ~6k and ~32k tokens.
for (const [label, words] of [
  ['6k-token chat', 735],
  ['32k-token chat', 3620],
] as const) {
  const tok: number[] = [];
  const keys: number[] = [];
  const sched: number[] = [];
  let tokens = 0;
  for (let c = 0; c < CONVERSATIONS; c++) {
    for (let turn = 0; turn < 3; turn++) {
      const t0 = performance.now();
      const result = await pool.run({ kind: 'chat', model: 'llama3_1', messages: messages(c, words, turn) });
      const t1 = performance.now();
      const ids = result.tokenIds[0]!;
      const blockKeys = computeBlockKeys(ids, BLOCK, root);
      const t2 = performance.now();
      const request: SchedulingRequest = {
        requestId: `${c}-${turn}`,
        targetModel: MODEL,
        promptText: '',
        promptTokenEstimate: ids.length,
        blockKeys: Array.from(blockKeys),
        headers: {},
      };
      const decision = scheduler.schedule(request, fleet, { random });
      const t3 = performance.now();
      // What KV events would then report: the chosen pod holds the prompt.
      index.add(decision.endpointId!, 'gpu', blockKeys, null);
      if (turn > 0) {
        // Turn 0 pays the cold tokenization of the conversation; later turns are what a fleet sees.
        tok.push(t1 - t0);
        keys.push(t2 - t1);
        sched.push(t3 - t2);
      }
      tokens = ids.length;
    }
  }
  const total = tok.map((v, i) => v + keys[i]! + sched[i]!);
  const f = (v: number[]) => `${pct(v, 0.5).toFixed(2)} / ${pct(v, 0.99).toFixed(2)}`;
  console.log(`| ${label} | ${tokens} | ${f(tok)} | ${f(keys)} | ${f(sched)} | ${f(total)} |`);
}
await pool.close();
index.close();
