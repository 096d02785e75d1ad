/**
 * `--workload mooncake --workload-file <trace.jsonl>`: replays a Mooncake trace on its own
 * schedule (W7; Dynamo's A/B used the toolagent trace at 0.8× speed: `--trace-speed 0.8`).
 * Fleet: 8 pods of Qwen-32B TP2 unless overridden (Dynamo's A/B ran 8 × Qwen3-32B).
 */
import { readFileSync } from 'node:fs';
import { resolveFleet } from './fleet-shape.ts';
import { MooncakeTokenizer, parseMooncakeTrace } from './mooncake-trace.ts';
import { limitRequests } from './request-limit.ts';
import { fixedOutput } from './token-source.ts';
import type { WorkloadDefinition, WorkloadRequest } from './types.ts';

const SUMMARY = 'Mooncake JSONL trace replay (--workload-file), fixed schedule';

export const mooncakeFile: WorkloadDefinition = {
  name: 'mooncake',
  summary: SUMMARY,
  build(options) {
    if (!options.file) throw new Error('--workload mooncake needs --workload-file <trace.jsonl>');
    const records = parseMooncakeTrace(readFileSync(options.file, 'utf8'));
    if (records.length === 0) throw new Error(`${options.file}: empty trace`);
    const speed = options.traceSpeed ?? 1;
    if (!(speed > 0)) throw new RangeError(`--trace-speed must be > 0, got ${speed}`);
    const seed = options.seed;
    const tokenizer = new MooncakeTokenizer(seed);
    const t0 = Math.min(...records.map((r) => r.timestamp));
    const maxOutput = Math.max(1, ...records.map((r) => r.output_length));
    const output = fixedOutput(seed, maxOutput);
    const requests: WorkloadRequest[] = records
      .map((record, i) => ({ record, i }))
      .sort((a, b) => a.record.timestamp - b.record.timestamp || a.i - b.i)
      .map(({ record, i }) => ({
        id: `t${i}`,
        arrivalS: (record.timestamp - t0) / 1000 / speed,
        stage: 0,
        prompt: () => tokenizer.prompt(record, i),
        promptLength: record.input_length,
        // The engine needs at least one output token; a 0 in the trace becomes 1.
        outputTokenIds: output.slice(0, Math.max(1, record.output_length)),
      }));
    const last = requests.at(-1)?.arrivalS ?? 0;
    const fleet = resolveFleet(options, { pods: 8, profile: 'qwen2.5-32b-h100-tp2' });
    const uniqueBlocks = new Set(records.flatMap((r) => r.hash_ids)).size;
    const totalBlocks = records.reduce((n, r) => n + r.hash_ids.length, 0);
    return {
      name: 'mooncake',
      description: `${SUMMARY}: ${options.file}`,
      reference: 'peer-routers.md §2.8, §11 W7',
      parameters: { file: options.file, requests: records.length, trace_speed: speed, block_tokens: 512 },
      stages: [{ index: 0, name: 'trace', rate: null, startS: 0, durationS: last, warmup: false }],
      requests: limitRequests(requests, options.maxRequests),
      fleetEvents: [],
      fleet,
      notes: [
        `${records.length} requests over ${last.toFixed(1)} s; ${uniqueBlocks} distinct of ${totalBlocks} listed 512-token blocks (${((100 * (totalBlocks - uniqueBlocks)) / Math.max(1, totalBlocks)).toFixed(1)}% repeats).`,
      ],
    };
  },
};
