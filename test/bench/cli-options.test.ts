import { describe, expect, it } from 'vitest';
import {
  BUILTIN_WORKLOADS,
  buildProgram,
  parseLadder,
  parseOptions,
  parseReplicaCounts,
  replicaOptionsProblem,
} from '../../bench/cli/options.ts';

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

describe('replica options', () => {
  const live = ['--mode', 'live', '--start-sim', '--router', 'llm-d-precise'];

  it('defaults to one replica spread per request, and parses counts and the Redis URL', () => {
    const o = parseOptions([]);
    expect(o.replicas).toBe(1);
    expect(o.replicaSpread).toBe('request');
    expect(o.replicaSweep).toBeUndefined();
    expect(replicaOptionsProblem(o)).toBeNull();
    const r = parseOptions([...live, '--replicas', '4', '--redis-url', 'redis://127.0.0.1:7000']);
    expect(r).toMatchObject({ replicas: 4, redisUrl: 'redis://127.0.0.1:7000' });
    expect(replicaOptionsProblem(r)).toBeNull();
    const sweep = parseOptions([...live, '--replica-sweep', '1, 2,4', '--replica-spread', 'conversation']);
    expect(sweep.replicaSweep).toEqual([1, 2, 4]);
    expect(sweep.replicaSpread).toBe('conversation');
    expect(replicaOptionsProblem(sweep)).toBeNull();
    expect(parseReplicaCounts('1,1,2')).toEqual([1, 1, 2]);
    expect(() => parseReplicaCounts('1,0')).toThrow(/replica counts/);
    expect(() => parseReplicaCounts('2.5')).toThrow(/replica counts/);
  });

  it('refuses replicas outside live mode through the router, and --replicas with a sweep', () => {
    expect(replicaOptionsProblem(parseOptions(['--replicas', '2']))).toMatch(/--router/);
    expect(replicaOptionsProblem(parseOptions(['--mode', 'live', '--start-sim', '--replicas', '2']))).toMatch(
      /--router/,
    );
    expect(replicaOptionsProblem(parseOptions(['--redis-url', 'redis://x']))).toMatch(/--router/);
    expect(
      replicaOptionsProblem(parseOptions([...live, '--replicas', '2', '--replica-sweep', '1,2'])),
    ).toMatch(/exclusive/);
  });

  it('documents the replica options in --help', () => {
    const help = buildProgram().helpInformation();
    for (const flag of ['--replicas', '--redis-url', '--replica-sweep', '--replica-spread']) {
      expect(help).toContain(flag);
    }
  });
});
