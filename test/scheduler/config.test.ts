import { describe, expect, it } from 'vitest';
import { loadNamedConfig, loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { namedConfigs, type NamedConfig } from '../../src/scheduler/config/defaults.ts';
import { SchedulerConfigError } from '../../src/scheduler/config/config-error.ts';
import { createRandom } from '../../src/scheduler/prng.ts';
import type { Scheduler } from '../../src/scheduler/scheduler.ts';
import { endpoint, fleet, NOW, request } from './fixtures.ts';
import { PD_CONFIG } from './reference-configs.ts';

/** Profile → list of "name:weight" / "name" for a compact comparison. */
function shape(scheduler: Scheduler) {
  return Object.fromEntries(
    [...scheduler.profiles.values()].map((p) => [
      p.name,
      {
        filters: p.filters.map((f) => f.name),
        scorers: p.scorers.map((s) => `${s.scorer.type}:${s.weight}`),
        picker: p.picker.type,
      },
    ]),
  );
}

const expectConfigError = (yaml: string, ...fragments: string[]) => {
  let error: unknown;
  try {
    loadSchedulerConfig(yaml);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SchedulerConfigError);
  for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
};

describe('default config (llm-d-router.md §3.2–3.3)', () => {
  it("is kvedge's own picker with the precise producer and the approximate fallback", () => {
    const loaded = loadSchedulerConfig();
    expect(shape(loaded.scheduler)).toEqual({
      default: { filters: ['decode-filter'], scorers: [], picker: 'kvedge-picker' },
    });
    expect(loaded.scheduler.producers.map((p) => p.type)).toEqual([
      'precise-prefix-cache-producer',
      'approx-prefix-cache-producer',
    ]);
  });

  it('keeps llm-d’s well-lit path as a named config: queue 2, kv-cache 2, prefix 3, max-score picker', () => {
    const loaded = loadNamedConfig('llm-d-well-lit');
    expect(shape(loaded.scheduler)).toEqual({
      default: {
        filters: [],
        scorers: ['queue-scorer:2', 'kv-cache-utilization-scorer:2', 'prefix-cache-scorer:3'],
        picker: 'max-score-picker',
      },
    });
    expect(loaded.scheduler.profileHandler.type).toBe('single-profile-handler');
    expect(loaded.scheduler.producers.map((p) => p.type)).toEqual(['approx-prefix-cache-producer']);
    expect(loaded.externalPlugins.map((p) => `${p.type}@${p.owner}`)).toEqual([
      'metrics-data-source@fleet',
      'core-metrics-extractor@fleet',
    ]);
    expect(loaded.saturationDetector.type).toBe('utilization-detector');
    expect(loaded.warnings).toEqual([]);
  });

  it('an empty document also gives the default', () => {
    expect(shape(loadSchedulerConfig('').scheduler)).toEqual(shape(loadSchedulerConfig().scheduler));
  });

  it('every named config loads and schedules', () => {
    for (const name of Object.keys(namedConfigs) as NamedConfig[]) {
      const { scheduler } = loadNamedConfig(name);
      const decision = scheduler.schedule(request(), fleet([endpoint('a'), endpoint('b')]), {
        random: createRandom(1),
      });
      expect(decision.endpointId, name).not.toBeNull();
    }
    expect(shape(loadNamedConfig('least-load').scheduler)).toEqual({
      default: { filters: [], scorers: ['queue-scorer:1'], picker: 'max-score-picker' },
    });
  });

  it('llm-d-precise mirrors §3.5b', () => {
    const loaded = loadNamedConfig('llm-d-precise');
    expect(shape(loaded.scheduler)).toEqual({
      default: {
        filters: ['decode-filter'],
        scorers: ['prefix-cache-scorer:2', 'kv-cache-utilization-scorer:1', 'queue-scorer:1'],
        picker: 'max-score-picker',
      },
    });
    expect(loaded.scheduler.producers.map((p) => p.name)).toEqual(['precise-prefix-cache-producer']);
  });
});

describe('reference configs load', () => {
  it('optimized baseline (§3.3): no-hit-lru 2 and a tuned approximate producer', () => {
    const loaded = loadSchedulerConfig(`
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: approx-prefix-cache-producer
  parameters: {maxPrefixTokensToMatch: 100000}
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: no-hit-lru-scorer
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
  - {pluginRef: no-hit-lru-scorer, weight: 2}
`);
    expect(shape(loaded.scheduler).default?.scorers).toEqual([
      'queue-scorer:2',
      'kv-cache-utilization-scorer:2',
      'prefix-cache-scorer:3',
      'no-hit-lru-scorer:2',
    ]);
    expect(loaded.scheduler.producers).toHaveLength(1);
  });

  it('sample configs (§3.3): decode filter + prefix 2; estimate prefix + load-aware', () => {
    const sample = loadSchedulerConfig(`
apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: decode-filter
- type: max-score-picker
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: decode-filter
  - pluginRef: max-score-picker
  - pluginRef: prefix-cache-scorer
    weight: 2
`);
    expect(shape(sample.scheduler)).toEqual({
      default: { filters: ['decode-filter'], scorers: ['prefix-cache-scorer:2'], picker: 'max-score-picker' },
    });
    const estimate = loadSchedulerConfig(`
plugins:
- type: prefix-cache-scorer
- type: load-aware-scorer
schedulingProfiles:
- name: default
  plugins: [{pluginRef: prefix-cache-scorer, weight: 1.0}, {pluginRef: load-aware-scorer, weight: 1.0}]
`);
    expect(shape(estimate.scheduler).default?.scorers).toEqual([
      'prefix-cache-scorer:1',
      'load-aware-scorer:1',
    ]);
  });

  it('P/D config (§3.4)', () => {
    const loaded = loadSchedulerConfig(PD_CONFIG);
    expect(shape(loaded.scheduler)).toEqual({
      prefill: {
        filters: ['prefill-filter'],
        scorers: ['prefix-cache-scorer:2', 'queue-scorer:1'],
        picker: 'max-score-picker',
      },
      decode: {
        filters: ['decode-filter'],
        scorers: ['prefix-cache-scorer:2', 'queue-scorer:1'],
        picker: 'max-score-picker',
      },
    });
    expect(loaded.scheduler.profileHandler.type).toBe('disagg-profile-handler');
  });

  it('precise prefix config (§3.5), with data-layer plugins and the legacy apiVersion', () => {
    const loaded = loadSchedulerConfig(`
apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: token-producer
  parameters: {modelName: Qwen/Qwen3-8B, vllm: {url: "http://localhost:8000"}}
- type: endpoint-notification-source
- type: metrics-data-source
- type: core-metrics-extractor
- type: single-profile-handler
- type: decode-filter
- type: precise-prefix-cache-producer
  parameters:
    tokenProcessorConfig: {blockSize: 64}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
- type: kv-cache-utilization-scorer
- type: queue-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: decode-filter}
  - {pluginRef: prefix-cache-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 1}
  - {pluginRef: queue-scorer, weight: 1}
  - {pluginRef: max-score-picker}
dataLayer:
  sources:
  - pluginRef: metrics-data-source
    extractors: [{pluginRef: core-metrics-extractor}]
  - pluginRef: endpoint-notification-source
    extractors: [{pluginRef: precise-prefix-cache-producer}]
`);
    expect(loaded.externalPlugins.map((p) => p.type)).toEqual([
      'token-producer',
      'endpoint-notification-source',
      'metrics-data-source',
      'core-metrics-extractor',
    ]);
    expect(loaded.dataLayer).toBeDefined();
    expect(loaded.warnings.join('\n')).toContain('deprecated');
    expect(loaded.scheduler.producers.map((p) => p.type)).toEqual(['precise-prefix-cache-producer']);
  });

  it('omitted schedulingProfiles → a default profile with every filter, scorer and picker (weight 1)', () => {
    const loaded = loadSchedulerConfig(`
plugins:
- type: decode-filter
- type: prefix-cache-scorer
- type: load-aware-scorer
  parameters: {threshold: 64}
`);
    expect(shape(loaded.scheduler)).toEqual({
      default: {
        filters: ['decode-filter'],
        scorers: ['prefix-cache-scorer:1', 'load-aware-scorer:1'],
        picker: 'max-score-picker',
      },
    });
  });

  it('named instances of one type get their own parameters', () => {
    const loaded = loadSchedulerConfig(`
plugins:
- {name: strict-load, type: load-aware-scorer, parameters: {threshold: 8}}
- {name: loose-load, type: load-aware-scorer}
schedulingProfiles:
- name: default
  plugins: [{pluginRef: strict-load, weight: 2}, {pluginRef: loose-load}]
`);
    const decision = loaded.scheduler.schedule(
      request(),
      fleet([endpoint('a', { metrics: { waitingQueueSize: 4 } })]),
      {
        random: createRandom(1),
      },
    );
    // strict: 0.5·(1 − 4/8) = 0.25 × 2; loose: 0.5·(1 − 4/128) = 0.484375
    expect(decision.trace.profiles[0]!.candidates[0]!.total).toBeCloseTo(0.5 + 0.484375, 12);
  });
});

describe('config errors list the valid options', () => {
  it('unknown plugin type', () => {
    expectConfigError(
      'plugins: [{type: queue-scorrer}]',
      "unknown plugin type 'queue-scorrer'",
      'Valid types:',
      'queue-scorer',
      'max-score-picker',
    );
  });

  it('bad weight', () => {
    const yaml = (w: string) => `
plugins: [{type: queue-scorer}]
schedulingProfiles: [{name: default, plugins: [{pluginRef: queue-scorer, weight: ${w}}]}]`;
    expectConfigError(yaml('-1'), "invalid weight -1 for scorer 'queue-scorer'", 'number ≥ 0');
    expectConfigError(yaml('two'), 'invalid weight "two"');
  });

  it('weight on a non-scorer', () => {
    expectConfigError(
      `plugins: [{type: random-picker}]
schedulingProfiles: [{name: default, plugins: [{pluginRef: random-picker, weight: 2}]}]`,
      "'weight' is only valid for scorers",
    );
  });

  it('bad parameters: wrong value and unknown key, listing valid parameters', () => {
    expectConfigError(
      'plugins: [{type: load-aware-scorer, parameters: {threshold: -3}}]',
      "'load-aware-scorer' (load-aware-scorer): invalid parameters",
      'threshold',
    );
    expectConfigError(
      'plugins: [{type: prefix-cache-scorer, parameters: {matchLenghtWeight: 0.5}}]',
      'Unrecognized key',
      'valid parameters: matchLengthWeight, matchLengthScaleTokens, prefixMatchInfoProducerName',
    );
  });

  it('unknown pluginRef, listing configured plugins', () => {
    expectConfigError(
      `plugins: [{type: queue-scorer}, {name: kv, type: kv-cache-utilization-scorer}]
schedulingProfiles: [{name: default, plugins: [{pluginRef: kv-cache-utilization-scorer}]}]`,
      "unknown pluginRef 'kv-cache-utilization-scorer'",
      'Configured plugins: queue-scorer, kv',
    );
  });

  it('structural mistakes', () => {
    expectConfigError(
      'plugins: [{type: random-picker}, {type: max-score-picker}]',
      'a profile has one picker',
    );
    expectConfigError('plugins: [{type: queue-scorer}, {type: queue-scorer}]', 'duplicate plugin name');
    expectConfigError(
      `plugins: [{type: queue-scorer}]
schedulingProfiles: [{name: a, plugins: []}, {name: b, plugins: []}]`,
      '2 scheduling profiles need a profile handler',
      'disagg-profile-handler',
    );
    expectConfigError(
      `plugins: [{type: metrics-data-source}]
schedulingProfiles: [{name: default, plugins: [{pluginRef: metrics-data-source}]}]`,
      'belongs to the fleet',
    );
    expectConfigError(
      'plugins: [{type: prefix-cache-scorer, parameters: {prefixMatchInfoProducerName: my-producer}}]',
      "reads data producer 'my-producer', which is not configured",
    );
    expectConfigError('plugins: [{type: session-affinity-scorer}]', 'Alpha', 'allowExperimentalPlugins');
    expectConfigError('kind: Deployment\nplugins: []', 'invalid EndpointPickerConfig');
    expectConfigError('plugins: []\nschedulingProfile: []', 'Unrecognized key', 'valid top-level keys');
    expectConfigError('plugins: [', 'invalid YAML');
  });

  it('Alpha plugins load with allowExperimentalPlugins', () => {
    const loaded = loadSchedulerConfig('plugins: [{type: session-affinity-scorer}]', {
      allowExperimentalPlugins: true,
    });
    expect(shape(loaded.scheduler).default?.scorers).toEqual(['session-affinity-scorer:1']);
  });
});

describe('round-robin named config', () => {
  it('cycles through endpoints as decisions are dispatched', () => {
    const { scheduler } = loadNamedConfig('round-robin');
    const view = fleet([endpoint('a'), endpoint('b'), endpoint('c')]);
    const picks = Array.from({ length: 6 }, () => {
      const req = request();
      const decision = scheduler.schedule(req, view, { random: createRandom(1) });
      scheduler.recordDispatch(req, decision, NOW);
      return decision.endpointId;
    });
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });
});
