import { describe, expect, it } from 'vitest';
import { BUILTIN_WORKLOADS, buildProgram, parseLadder, parseOptions } from '../../bench/cli/options.ts';

describe('bench command line', () => {
  it('defaults to the DES run of W1 with every policy', () => {
    const o = parseOptions([]);
    expect(o).toMatchObject({
      mode: 'des',
      workloads: ['llm-d-shared-prefix'],
      seed: 1,
      out: 'bench/results',
    });
    expect(o.policies).toEqual([
      'round-robin',
      'random',
      'least-load',
      'llm-d-well-lit',
      'llm-d-precise',
      'sglang-cache-aware',
      'dynamo-kv',
      'kvedge',
    ]);
    expect(o.scrapeIntervalMs).toBe(50);
    expect(o.kvEventDelayMs).toBe(5);
  });

  it('parses ladders, lists and "all"', () => {
    expect(parseLadder('3:20,10:20.5')).toEqual([
      { rate: 3, durationS: 20 },
      { rate: 10, durationS: 20.5 },
    ]);
    expect(() => parseLadder('3')).toThrow(/rate:duration/);
    const o = parseOptions([
      '--workload',
      'all',
      '--policies',
      'round-robin, dynamo-kv',
      '--ladder',
      '1:5',
      '--requests',
      '9',
    ]);
    expect(o.workloads).toEqual(BUILTIN_WORKLOADS);
    expect(o.workloads).not.toContain('mooncake');
    expect(o.policies).toEqual(['round-robin', 'dynamo-kv']);
    expect(o.maxRequests).toBe(9);
    expect(parseOptions(['--mode', 'live', '--target-url', 'http://a,http://b']).targetUrls).toEqual([
      'http://a',
      'http://b',
    ]);
  });

  it('documents every option in --help', () => {
    const help = buildProgram().helpInformation();
    for (const flag of [
      '--mode',
      '--workload',
      '--policies',
      '--seed',
      '--pods',
      '--profile',
      '--rate',
      '--ladder',
      '--duration',
      '--requests',
      '--out',
      '--workload-file',
      '--target-url',
      '--start-sim',
      '--scrape-interval-ms',
      '--kv-event-delay-ms',
    ]) {
      expect(help).toContain(flag);
    }
  });
});
