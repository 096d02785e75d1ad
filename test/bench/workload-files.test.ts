import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inferencePerfFile } from '../../bench/workloads/inference-perf-file.ts';
import { parseInferencePerfConfig } from '../../bench/workloads/inference-perf-config.ts';
import { mooncakeFile } from '../../bench/workloads/mooncake-file.ts';
import { MooncakeTokenizer, parseMooncakeTrace } from '../../bench/workloads/mooncake-trace.ts';

const YAML_SAMPLE = 'bench/workloads/samples/shared-prefix.yaml';
const TRACE_SAMPLE = 'bench/workloads/samples/mooncake-sample.jsonl';

describe('inference-perf shared_prefix config', () => {
  it('reads the sample: shape and load stages', () => {
    const parsed = parseInferencePerfConfig(readFileSync(YAML_SAMPLE, 'utf8'));
    expect(parsed.shape).toEqual({
      groups: 16,
      promptsPerGroup: 8,
      systemPromptLen: 2048,
      questionLen: 256,
      outputLen: 256,
    });
    expect(parsed.load).toEqual({
      type: 'poisson',
      stages: [
        { rate: 4, durationS: 20 },
        { rate: 8, durationS: 20 },
        { rate: 12, durationS: 20 },
      ],
    });
  });

  it('builds a workload whose prompts follow the file', () => {
    const w = inferencePerfFile.build({ seed: 1, file: YAML_SAMPLE });
    expect(w.stages.map((s) => s.rate)).toEqual([4, 8, 12]);
    const prompts = w.requests.map((r) => r.prompt());
    expect(prompts.every((p) => p.length === 2048 + 256)).toBe(true);
    expect(new Set(prompts.map((p) => p.slice(0, 2048).join(','))).size).toBeLessThanOrEqual(16);
    expect(new Set(prompts.map((p) => p.join(','))).size).toBeLessThanOrEqual(16 * 8);
    expect(w.requests.every((r) => r.outputTokenIds.length === 256)).toBe(true);
  });

  it('accepts the legacy aliases and a bare shared_prefix mapping, with inference-perf defaults', () => {
    const bare = parseInferencePerfConfig('num_unique_system_prompts: 3\nnum_users_per_system_prompt: 2\n');
    expect(bare.shape).toEqual({
      groups: 3,
      promptsPerGroup: 2,
      systemPromptLen: 100,
      questionLen: 50,
      outputLen: 50,
    });
    expect(bare.load).toBeUndefined();
  });

  it('rejects what it cannot reproduce, naming the field', () => {
    expect(() =>
      parseInferencePerfConfig(
        'data:\n  type: shared_prefix\n  shared_prefix:\n    enable_multi_turn_chat: true\n',
      ),
    ).toThrow(/enable_multi_turn_chat/);
    expect(() =>
      parseInferencePerfConfig('data:\n  type: shared_prefix\n  shared_prefix:\n    question_len: -1\n'),
    ).toThrow(/question_len/);
  });
});

describe('Mooncake trace', () => {
  const records = parseMooncakeTrace(readFileSync(TRACE_SAMPLE, 'utf8'));

  it('parses every line of the sample', () => {
    expect(records).toHaveLength(30);
    expect(records[0]).toMatchObject({
      timestamp: 531,
      input_length: 1201,
      output_length: 121,
      hash_ids: [0, 1, 10],
    });
  });

  it('turns equal hash ids into equal 512-token blocks', () => {
    const tokenizer = new MooncakeTokenizer(9);
    const a = tokenizer.prompt(
      { timestamp: 0, input_length: 1500, output_length: 1, hash_ids: [0, 1, 10] },
      0,
    );
    const b = tokenizer.prompt(
      { timestamp: 0, input_length: 1200, output_length: 1, hash_ids: [0, 1, 20] },
      1,
    );
    expect(a).toHaveLength(1500);
    expect(b).toHaveLength(1200);
    expect(a.slice(0, 1024)).toEqual(b.slice(0, 1024));
    expect(a[1024]).not.toBe(b[1024]);
    // A partial last block is the start of that id's block.
    expect(b.slice(1024)).toEqual([...new MooncakeTokenizer(9).block(20)].slice(0, 176));
  });

  it('builds a fixed-schedule workload: times from 0 in seconds, scaled by the trace speed', () => {
    const w = mooncakeFile.build({ seed: 1, file: TRACE_SAMPLE });
    expect(w.requests).toHaveLength(30);
    expect(w.requests[0]!.arrivalS).toBe(0);
    expect(w.requests[1]!.arrivalS).toBeCloseTo((1397 - 531) / 1000, 9);
    const slow = mooncakeFile.build({ seed: 1, file: TRACE_SAMPLE, traceSpeed: 0.5 });
    expect(slow.requests[1]!.arrivalS).toBeCloseTo((2 * (1397 - 531)) / 1000, 9);
    // Lines sharing hash ids 0 and 1 share their first 1024 prompt tokens.
    const [first, second] = [w.requests[0]!.prompt(), w.requests[1]!.prompt()];
    expect(first.slice(0, 1024)).toEqual(second.slice(0, 1024));
    expect(w.requests[0]!.outputTokenIds).toHaveLength(121);
  });

  it('names the offending line', () => {
    expect(() =>
      parseMooncakeTrace(
        '{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": [0]}\n{"oops": 1}\n',
      ),
    ).toThrow(/line 2/);
  });
});
