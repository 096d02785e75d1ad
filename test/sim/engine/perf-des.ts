/**
 * Engine speed check: `npx tsx test/sim/engine/perf-des.ts [outputTokens] [blockSize] [sha256|fnv] [events|no-events]`.
 * 8 engines x 1000 requests of 6,000-token prompts (4,800 shared by one of 150 groups + 1,200
 * unique) on one virtual clock, Qwen-32B TP2 profile.
 */
import { fnvBlockHash, runFleet } from './fleet-workload.ts';
import { sha256BlockHash } from './helpers.ts';

const outputTokens = Number(process.argv[2] ?? 100);
const blockSize = Number(process.argv[3] ?? 64);
const hasher = process.argv[4] ?? 'sha256';
const listenKvEvents = process.argv[5] !== 'no-events';
const summary = runFleet({
  engines: 8,
  requestsPerEngine: 1000,
  systemTokens: 4800,
  questionTokens: 1200,
  outputTokens,
  groups: 150,
  blockSize,
  rate: 20,
  profile: 'qwen2.5-32b-h100-tp2',
  seed: 1,
  hashBlock: hasher === 'fnv' ? fnvBlockHash : sha256BlockHash,
  kvEvents: listenKvEvents,
});
const { engines: _engines, ...printable } = summary;
console.log(JSON.stringify({ outputTokens, blockSize, hasher, listenKvEvents, ...printable }, null, 2));
