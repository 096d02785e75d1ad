import { describe, expect, it } from 'vitest';
import { AdmissionController, SHED_MESSAGE } from '../../src/scheduler/admission/admission-controller.ts';
import {
  InferenceObjectiveResolver,
  parseInferenceObjectives,
} from '../../src/scheduler/admission/inference-objectives.ts';
import { UtilizationDetector } from '../../src/scheduler/admission/utilization-detector.ts';
import { loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { cycleFor, endpoint, fleet, NOW, request } from './fixtures.ts';

const load = (id: string, waitingQueueSize: number, kvCacheUsagePercent: number, ageMs = 0) =>
  endpoint(id, { metrics: { waitingQueueSize, kvCacheUsagePercent, updatedAtMs: NOW - ageMs } });

describe('utilization-detector (llm-d-router.md §5)', () => {
  const detector = new UtilizationDetector();

  it('per endpoint: max(queue/5, kv/0.8); pool: the average', () => {
    // a: max(2/5, 0.4/0.8) = 0.5; b: max(10/5, 0.2/0.8) = 2.0 → pool 1.25
    expect(detector.endpointSaturation(load('a', 2, 0.4), NOW)).toBe(0.5);
    expect(detector.endpointSaturation(load('b', 10, 0.2), NOW)).toBe(2);
    expect(detector.saturation(fleet([load('a', 2, 0.4), load('b', 10, 0.2)]))).toBe(1.25);
    expect(detector.isSaturated(fleet([load('a', 2, 0.4), load('b', 10, 0.2)]))).toBe(true);
    // a: 0.5; c: max(1/5, 0.4/0.8) = 0.5 → 0.5
    expect(detector.isSaturated(fleet([load('a', 2, 0.4), load('c', 1, 0.4)]))).toBe(false);
  });

  it('counts metrics older than 200 ms, or missing, as fully saturated', () => {
    expect(detector.endpointSaturation(load('fresh', 0, 0, 200), NOW)).toBe(0);
    expect(detector.endpointSaturation(load('stale', 0, 0, 201), NOW)).toBe(1);
    expect(detector.endpointSaturation(endpoint('none', { metrics: null }), NOW)).toBe(1);
    // Two idle endpoints and two stale ones: (0 + 0 + 1 + 1) / 4 = 0.5
    const view = fleet([
      load('a', 0, 0),
      load('b', 0, 0),
      load('c', 0, 0, 500),
      endpoint('d', { metrics: null }),
    ]);
    expect(detector.saturation(view)).toBe(0.5);
  });

  it('ignores unhealthy endpoints; an empty pool is saturated', () => {
    expect(
      detector.saturation(fleet([load('a', 0, 0), endpoint('x', { healthy: false, metrics: null })])),
    ).toBe(0);
    expect(detector.saturation(fleet([]))).toBe(1);
  });

  it('takes thresholds and a Go duration from config', () => {
    const { saturationDetector } = loadSchedulerConfig(`
plugins:
- {type: queue-scorer}
- {name: sat, type: utilization-detector, parameters: {queueDepthThreshold: 10, kvCacheUtilThreshold: 0.5, metricsStalenessThreshold: 1s}}
schedulingProfiles: [{name: default, plugins: [{pluginRef: queue-scorer}]}]
flowControl: {saturationDetector: {pluginRef: sat}}
`);
    // max(5/10, 0.4/0.5) = 0.8; 900 ms old is fresh with a 1 s threshold
    expect(
      (saturationDetector as UtilizationDetector).endpointSaturation(load('a', 5, 0.4, 900), NOW),
    ).toBeCloseTo(0.8, 12);
  });

  it('as a filter drops queue > 5, KV > 0.8 and stale endpoints, failing open', () => {
    const eps = [load('ok', 5, 0.8), load('deep', 6, 0), load('full', 0, 0.81), load('stale', 0, 0, 300)];
    const result = detector.filter(cycleFor(request(), fleet(eps)), eps);
    expect(result.kept.map((e) => e.info.id)).toEqual(['ok']);
    const hot = [load('deep', 6, 0), load('full', 0, 0.9)];
    expect(detector.filter(cycleFor(request(), fleet(hot)), hot).kept).toHaveLength(2);
  });

  it('applies headroom to the filter limits', () => {
    const lenient = new UtilizationDetector('u', { headroom: 0.2 });
    const eps = [load('q6', 6, 0), load('q7', 7, 0), load('kv95', 0, 0.95), load('kv97', 0, 0.97)];
    // limits: queue 5·1.2 = 6, KV min(1, 0.8·1.2) = 0.96
    expect(lenient.filter(cycleFor(request(), fleet(eps)), eps).kept.map((e) => e.info.id)).toEqual([
      'q6',
      'kv95',
    ]);
  });
});

describe('admission: shedding sheddable requests', () => {
  const admission = new AdmissionController(new UtilizationDetector());
  const saturated = fleet([load('a', 10, 0.9)]);
  const calm = fleet([load('a', 1, 0.1)]);

  it('rejects priority < 0 with 429 only while saturated', () => {
    expect(admission.admit(request({ priority: -1 }), saturated)).toEqual({
      admitted: false,
      httpStatus: 429,
      reason: 'rejected-saturated',
      message: SHED_MESSAGE,
    });
    expect(admission.admit(request({ priority: -1 }), calm)).toEqual({ admitted: true });
  });

  it('never rejects priority ≥ 0', () => {
    expect(admission.admit(request({ priority: 0 }), saturated).admitted).toBe(true);
    expect(admission.admit(request(), saturated).admitted).toBe(true);
  });
});

describe('InferenceObjective priorities', () => {
  const resolver = new InferenceObjectiveResolver([
    { name: 'critical', priority: 10 },
    { name: 'batch', priority: -1 },
  ]);

  it('maps x-llm-d-inference-objective (and the legacy header) to priority; unknown or missing → 0', () => {
    expect(resolver.priorityFor({ 'x-llm-d-inference-objective': 'batch' })).toBe(-1);
    expect(resolver.priorityFor({ 'x-gateway-inference-objective': 'critical' })).toBe(10);
    expect(resolver.priorityFor({ 'x-llm-d-inference-objective': 'nope' })).toBe(0);
    expect(resolver.priorityFor({})).toBe(0);
  });

  it('parses Kubernetes InferenceObjective documents and plain lists', () => {
    const fromK8s = parseInferenceObjectives(`
apiVersion: llm-d.ai/v1alpha2
kind: InferenceObjective
metadata: {name: batch}
spec: {priority: -5, poolRef: {name: pool}}
---
apiVersion: llm-d.ai/v1alpha2
kind: InferenceObjective
metadata: {name: default-ish}
spec: {poolRef: {name: pool}}
`);
    expect(fromK8s).toEqual([
      { name: 'batch', priority: -5 },
      { name: 'default-ish', priority: 0 },
    ]);
    expect(parseInferenceObjectives('objectives: [{name: a, priority: 3}]')).toEqual([
      { name: 'a', priority: 3 },
    ]);
    expect(() => parseInferenceObjectives('[{name: a, priority: high}]')).toThrow(
      /invalid inference objective/,
    );
  });

  it('are available from a loaded config', () => {
    const loaded = loadSchedulerConfig(undefined, { objectives: [{ name: 'batch', priority: -1 }] });
    expect(loaded.objectives.priorityFor({ 'x-llm-d-inference-objective': 'batch' })).toBe(-1);
  });
});
