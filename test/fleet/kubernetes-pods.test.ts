import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/fleet/discovery/kubernetes-backoff.ts';
import {
  formatMatchLabels,
  parseInferencePool,
} from '../../src/fleet/discovery/kubernetes-inference-pool.ts';
import {
  endpointsFromPods,
  isServingPod,
  type PodObject,
} from '../../src/fleet/discovery/kubernetes-pods.ts';
import { inferencePool, pod } from '../k8s/support/kube-fixtures.ts';

const PORTS = { targetPorts: [8000], kvEventsPort: 5557, kvReplayPort: null };

describe('isServingPod', () => {
  it('requires Ready=True, a pod IP and no deletionTimestamp', () => {
    expect(isServingPod(pod({ name: 'a', ip: '10.0.0.1' }))).toBe(true);
    expect(isServingPod(pod({ name: 'a', ip: '10.0.0.1', ready: false }))).toBe(false);
    expect(isServingPod(pod({ name: 'a' }))).toBe(false);
    expect(isServingPod(pod({ name: 'a', ip: '10.0.0.1', terminating: true }))).toBe(false);
    // client-node's list turns timestamps into Date objects; the watch leaves them strings.
    expect(
      isServingPod({ ...pod({ name: 'a', ip: '10.0.0.1' }), metadata: { deletionTimestamp: new Date() } }),
    ).toBe(false);
    expect(isServingPod({ status: { podIP: '10.0.0.1' } })).toBe(false);
  });
});

describe('endpointsFromPods', () => {
  it('sorts by id, brackets IPv6 ids, and keeps the first pod by name on an ip:port clash', () => {
    const pods: PodObject[] = [
      pod({ name: 'z-old', ip: '10.0.0.9', labels: { owner: 'z' } }),
      pod({ name: 'b', ip: 'fd00::5' }),
      pod({ name: 'a-new', ip: '10.0.0.9', labels: { owner: 'a' } }),
    ];
    const endpoints = endpointsFromPods(pods, PORTS);
    expect(endpoints.map((e) => [e.id, e.kvEventsEndpoint, e.labels.owner])).toEqual([
      ['10.0.0.9:8000', 'tcp://10.0.0.9:5557', 'a'],
      ['[fd00::5]:8000', 'tcp://[fd00::5]:5557', undefined],
    ]);
  });
});

describe('parseInferencePool', () => {
  it('reads v1 spec.selector.matchLabels and spec.targetPorts[].number', () => {
    const pool = inferencePool('p', { 'llm-d.ai/inference-serving': 'true', app: 'vllm' }, [8000, 8001]);
    expect(parseInferencePool(pool)).toEqual({
      labelSelector: 'app=vllm,llm-d.ai/inference-serving=true',
      targetPorts: [8000, 8001],
    });
  });

  it.each([
    [
      { selector: { matchLabels: {} }, targetPorts: [{ number: 8000 }] },
      'spec.selector.matchLabels: needs at least one label',
    ],
    [{ selector: { matchLabels: { app: 'vllm' } }, targetPorts: [] }, 'spec.targetPorts: '],
    [
      { selector: { matchLabels: { app: 'vllm' } }, targetPorts: [{ number: 1 }, { number: 1 }] },
      'port numbers must be unique',
    ],
    [{ selector: { matchLabels: { app: 'a b' } }, targetPorts: [{ number: 1 }] }, 'not a valid label value'],
    // The v1alpha2 field name is not accepted as v1.
    [{ selector: { app: 'vllm' }, targetPortNumber: 8000 }, 'spec.selector.matchLabels'],
  ])('rejects spec %j', (spec, message) => {
    expect(() => parseInferencePool({ metadata: { name: 'p', namespace: 'ns' }, spec })).toThrow(
      new RegExp(`^InferencePool ns/p is not usable: .*${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
  });

  it('formats matchLabels as a selector with sorted keys', () => {
    expect(formatMatchLabels({ b: '2', a: '1' })).toBe('a=1,b=2');
  });
});

describe('Backoff', () => {
  it('doubles up to the ceiling, jitter only shortening, and restarts after reset', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0.5, random: () => 0 });
    expect([1, 2, 3, 4, 5].map(() => backoff.next())).toEqual([100, 200, 400, 800, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
    const jittered = new Backoff({ initialMs: 100, jitter: 0.5, random: () => 0.999 });
    expect(jittered.next()).toBe(50);
  });
});
