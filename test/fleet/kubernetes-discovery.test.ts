/**
 * KubernetesDiscovery against a stand-in API server that speaks the real list/watch protocol,
 * reached through client-node with a KubeConfig loaded from a generated kubeconfig file.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  KubernetesDiscovery,
  type KubernetesDiscoveryConfig,
} from '../../src/fleet/discovery/kubernetes-discovery.ts';
import type { EndpointInfo } from '../../src/fleet/types.ts';
import { FakeKubeApi } from '../k8s/support/fake-kube-api.ts';
import { inferencePool, pod, writeKubeconfig } from '../k8s/support/kube-fixtures.ts';
import { waitFor } from './support/wait.ts';

const NS = 'inference';
const VLLM = { app: 'vllm', 'llm-d.ai/inference-serving': 'true' };

let api: FakeKubeApi;
let kubeconfig: ReturnType<typeof writeKubeconfig>;
const open: KubernetesDiscovery[] = [];

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.listen();
  kubeconfig = writeKubeconfig(api.url, api.token, NS);
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((discovery) => discovery.close()));
  await api.close();
  kubeconfig.cleanup();
});

/** A discovery with fast retries, recording every change and refresh error. */
function discoveryFor(config: Partial<KubernetesDiscoveryConfig>) {
  const discovery = new KubernetesDiscovery({
    namespace: NS,
    kubeConfig: kubeconfig.kubeConfig,
    backoff: { initialMs: 10, maxMs: 50 },
    ...config,
  });
  open.push(discovery);
  const changes: string[][] = [];
  const errors: Error[] = [];
  discovery.on('change', (endpoints) => changes.push(ids(endpoints)));
  discovery.on('refreshError', (error) => errors.push(error));
  return { discovery, changes, errors };
}

const ids = (endpoints: readonly EndpointInfo[]): string[] => endpoints.map((e) => e.id);
const currentIds = (discovery: KubernetesDiscovery): string[] => ids(discovery.current());

async function until(discovery: KubernetesDiscovery, expected: string[]): Promise<void> {
  await waitFor(
    () => JSON.stringify(currentIds(discovery)) === JSON.stringify(expected),
    `endpoints ${expected.join(',')} (have ${currentIds(discovery).join(',')})`,
  );
}

describe('KubernetesDiscovery, label-selector mode', () => {
  it('lists only Ready pods with an IP that are not terminating, one endpoint per target port', async () => {
    api.apply(
      'pods',
      pod({ name: 'vllm-a', namespace: NS, ip: '10.0.0.1', labels: { ...VLLM, role: 'decode' } }),
    );
    api.apply('pods', pod({ name: 'vllm-b', namespace: NS, ip: '10.0.0.2', labels: VLLM, ready: false }));
    api.apply('pods', pod({ name: 'vllm-c', namespace: NS, labels: VLLM }));
    api.apply(
      'pods',
      pod({ name: 'vllm-d', namespace: NS, ip: '10.0.0.4', labels: VLLM, terminating: true }),
    );
    api.apply('pods', pod({ name: 'other', namespace: NS, ip: '10.0.0.5', labels: { app: 'other' } }));
    api.apply('pods', pod({ name: 'vllm-e', namespace: 'elsewhere', ip: '10.0.0.6', labels: VLLM }));
    const { discovery } = discoveryFor({
      labelSelector: 'app=vllm,llm-d.ai/inference-serving=true',
      targetPorts: [8000, 8001],
      kvReplayPort: 5600,
    });

    await discovery.start();

    expect(discovery.current()).toEqual([
      {
        id: '10.0.0.1:8000',
        host: '10.0.0.1',
        port: 8000,
        labels: { ...VLLM, role: 'decode' },
        models: [],
        kvEventsEndpoint: 'tcp://10.0.0.1:5557',
        kvReplayEndpoint: 'tcp://10.0.0.1:5600',
      },
      {
        // The second port is data-parallel rank 1: vLLM offsets its ZeroMQ ports by the rank.
        id: '10.0.0.1:8001',
        host: '10.0.0.1',
        port: 8001,
        labels: { ...VLLM, role: 'decode' },
        models: [],
        kvEventsEndpoint: 'tcp://10.0.0.1:5558',
        kvReplayEndpoint: 'tcp://10.0.0.1:5601',
      },
    ]);
    const [list] = api.requestsOf('list', 'pods');
    expect(list?.path).toBe(`/api/v1/namespaces/${NS}/pods`);
    expect(list?.query.labelSelector).toBe('app=vllm,llm-d.ai/inference-serving=true');
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');
    const [watch] = api.requestsOf('watch', 'pods');
    // The watch starts exactly where the list's snapshot ended, and asks for bookmarks.
    expect(watch?.query).toMatchObject({
      resourceVersion: api.resourceVersion,
      allowWatchBookmarks: 'true',
      labelSelector: 'app=vllm,llm-d.ai/inference-serving=true',
    });
  });

  it('follows readiness, termination, relabelling and deletion, emitting only real changes', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    const { discovery, changes } = discoveryFor({
      labelSelector: 'app=vllm',
      targetPorts: [8000],
      kvEvents: false,
    });
    await discovery.start();
    expect(changes).toEqual([['10.0.0.1:8000']]);
    expect(discovery.current()[0]?.kvEventsEndpoint).toBeUndefined();

    api.apply('pods', pod({ name: 'b', namespace: NS, ip: '10.0.0.2', labels: VLLM, ready: false }));
    api.patch('pods', NS, 'a', (p) => {
      p.metadata.annotations = { touched: 'yes' };
    });
    api.patch('pods', NS, 'b', (p) => {
      (p.status as { conditions: Array<{ type: string; status: string }> }).conditions[3]!.status = 'True';
    });
    await until(discovery, ['10.0.0.1:8000', '10.0.0.2:8000']);
    // Not-ready b and the annotation edit changed nothing anybody routes by: no event for them.
    expect(changes).toEqual([['10.0.0.1:8000'], ['10.0.0.1:8000', '10.0.0.2:8000']]);

    api.patch('pods', NS, 'a', (p) => {
      p.metadata.deletionTimestamp = '2025-01-01T00:10:00Z';
    });
    await until(discovery, ['10.0.0.2:8000']);

    // Relabelled out of the selector: the server reports it as DELETED to this watch.
    api.patch('pods', NS, 'b', (p) => {
      p.metadata.labels = { app: 'retired' };
    });
    await until(discovery, []);
    api.remove('pods', NS, 'a');
    api.apply('pods', pod({ name: 'c', namespace: NS, ip: '10.0.0.3', labels: VLLM }));
    await until(discovery, ['10.0.0.3:8000']);
    expect(changes).toEqual([
      ['10.0.0.1:8000'],
      ['10.0.0.1:8000', '10.0.0.2:8000'],
      ['10.0.0.2:8000'],
      [],
      ['10.0.0.3:8000'],
    ]);
    expect(api.requestsOf('list', 'pods')).toHaveLength(1);
  });

  it('publishes label changes of a serving pod (labels drive filters)', async () => {
    api.apply(
      'pods',
      pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: { app: 'vllm', 'llm-d.ai/role': 'prefill' } }),
    );
    const { discovery } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await discovery.start();
    api.patch('pods', NS, 'a', (p) => {
      p.metadata.labels = { app: 'vllm', 'llm-d.ai/role': 'decode' };
    });
    await waitFor(() => discovery.current()[0]?.labels['llm-d.ai/role'] === 'decode', 'the new role label');
  });

  it('resumes a dropped watch from the last resourceVersion without listing again', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    const { discovery } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await discovery.start();
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');
    const modified = api.patch('pods', NS, 'a', (p) => {
      p.metadata.labels = { ...VLLM, generation: '2' };
    });
    await waitFor(() => discovery.current()[0]?.labels.generation === '2', 'the MODIFIED event');

    api.dropWatches();
    api.apply('pods', pod({ name: 'b', namespace: NS, ip: '10.0.0.2', labels: VLLM }));
    await until(discovery, ['10.0.0.1:8000', '10.0.0.2:8000']);

    const watches = api.requestsOf('watch', 'pods');
    expect(watches.length).toBeGreaterThanOrEqual(2);
    expect(watches[1]?.query.resourceVersion).toBe(modified.metadata.resourceVersion);
    expect(api.requestsOf('list', 'pods')).toHaveLength(1);
  });

  it('resumes from the version of the last BOOKMARK', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    const { discovery } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await discovery.start();
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');
    // Writes this watch does not see advance the server's version; a bookmark carries it over.
    api.apply('pods', pod({ name: 'x', namespace: 'elsewhere', ip: '10.9.0.1', labels: VLLM }));
    api.apply('pods', pod({ name: 'y', namespace: 'elsewhere', ip: '10.9.0.2', labels: VLLM }));
    const bookmarked = api.resourceVersion;
    api.bookmark();
    api.endWatches();
    await waitFor(() => api.requestsOf('watch', 'pods').length === 2, 'the second watch');
    expect(api.requestsOf('watch', 'pods')[1]?.query.resourceVersion).toBe(bookmarked);
    expect(api.requestsOf('list', 'pods')).toHaveLength(1);
    expect(currentIds(discovery)).toEqual(['10.0.0.1:8000']);
  });

  it('re-lists after 410 Gone and drops pods deleted while it was not watching', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    api.apply('pods', pod({ name: 'b', namespace: NS, ip: '10.0.0.2', labels: VLLM }));
    const { discovery, changes } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await discovery.start();
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');

    // Events happen while the client hears nothing, then history is compacted past its version.
    api.freezeWatches();
    api.remove('pods', NS, 'a');
    api.apply('pods', pod({ name: 'c', namespace: NS, ip: '10.0.0.3', labels: VLLM }));
    api.compact();
    api.dropWatches();

    await until(discovery, ['10.0.0.2:8000', '10.0.0.3:8000']);
    expect(api.requestsOf('list', 'pods')).toHaveLength(2);
    // The re-watch with the old version got ERROR 410; the set went straight from old to new.
    expect(changes).toEqual([
      ['10.0.0.1:8000', '10.0.0.2:8000'],
      ['10.0.0.2:8000', '10.0.0.3:8000'],
    ]);
    await waitFor(() => api.openWatches('pods') === 1, 'a new watch after the re-list');
    expect(api.requestsOf('watch', 'pods').at(-1)?.query.resourceVersion).toBe(api.resourceVersion);
  });

  it('re-lists when an open watch reports ERROR 410 Expired', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    const { discovery, errors } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await discovery.start();
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');
    api.expireWatches();
    await waitFor(() => api.requestsOf('list', 'pods').length === 2, 'a re-list');
    await waitFor(() => api.openWatches('pods') === 1, 'a new watch');
    // Expiry is routine, not an error to report.
    expect(errors).toEqual([]);
    expect(currentIds(discovery)).toEqual(['10.0.0.1:8000']);
  });

  it('re-lists when the watch request itself is answered HTTP 410', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    const { discovery } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await discovery.start();
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');
    api.goneOnNextWatch();
    api.dropWatches();
    api.apply('pods', pod({ name: 'b', namespace: NS, ip: '10.0.0.2', labels: VLLM }));
    await until(discovery, ['10.0.0.1:8000', '10.0.0.2:8000']);
    expect(api.requestsOf('list', 'pods')).toHaveLength(2);
  });

  it('retries failing watches with backoff, reporting each failure and keeping the last set', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    const { discovery, errors, changes } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await discovery.start();
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');
    api.failNext('watch', { status: 500, count: 3, message: 'etcdserver: leader changed' });
    api.dropWatches();

    // The dropped connection, then each refused reconnect, is reported.
    await waitFor(() => errors.length === 4, 'four reported failures');
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^watching pods in namespace inference matching "app=vllm": /),
      ...Array(3).fill(
        'watching pods in namespace inference matching "app=vllm": HTTP 500: Internal Server Error',
      ),
    ]);
    expect(currentIds(discovery)).toEqual(['10.0.0.1:8000']);
    expect(changes).toHaveLength(1);

    api.apply('pods', pod({ name: 'b', namespace: NS, ip: '10.0.0.2', labels: VLLM }));
    await until(discovery, ['10.0.0.1:8000', '10.0.0.2:8000']);
    expect(api.requestsOf('list', 'pods')).toHaveLength(1);
  });

  it('replaces a watch that has gone silent (half-open connection)', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    const { discovery, errors } = discoveryFor({
      labelSelector: 'app=vllm',
      targetPorts: [8000],
      stallTimeoutMs: 200,
    });
    await discovery.start();
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');
    api.freezeWatches();
    api.apply('pods', pod({ name: 'b', namespace: NS, ip: '10.0.0.2', labels: VLLM }));
    await until(discovery, ['10.0.0.1:8000', '10.0.0.2:8000']);
    expect(errors[0]?.message).toMatch(/no data for 200 ms, reconnecting/);
    expect(api.requestsOf('list', 'pods')).toHaveLength(1);
  });

  it('pages through long lists with limit and continue', async () => {
    for (let i = 0; i < 7; i++)
      api.apply('pods', pod({ name: `p${i}`, namespace: NS, ip: `10.0.1.${i}`, labels: VLLM }));
    const { discovery } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000], listPageSize: 3 });
    await discovery.start();
    expect(discovery.current()).toHaveLength(7);
    const lists = api.requestsOf('list', 'pods');
    expect(lists.map((r) => r.query.limit)).toEqual(['3', '3', '3']);
    expect(lists[0]?.query.continue).toBeUndefined();
    expect(lists[1]?.query.continue).toBeTruthy();
  });

  it('start() fails with the API server message and an RBAC hint on 403', async () => {
    api.failNext('list', {
      status: 403,
      message: 'pods is forbidden: User "system:serviceaccount:inference:kvedge" cannot list resource "pods"',
    });
    const { discovery } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await expect(discovery.start()).rejects.toThrow(
      /^listing pods in namespace inference matching "app=vllm": HTTP 403: pods is forbidden: User "system:serviceaccount:inference:kvedge" cannot list resource "pods" \(the router's service account needs get\/list\/watch on pods/,
    );
    await waitFor(() => api.openWatches() === 0, 'no watch');
  });

  it('authenticates with the kubeconfig token (a wrong token is refused)', async () => {
    const wrong = writeKubeconfig(api.url, 'not-the-token', NS);
    try {
      const { discovery } = discoveryFor({
        labelSelector: 'app=vllm',
        targetPorts: [8000],
        kubeConfig: wrong.kubeConfig,
      });
      await expect(discovery.start()).rejects.toThrow(/HTTP 401/);
    } finally {
      wrong.cleanup();
    }
  });

  it('close() ends the watch and stops reconnecting', async () => {
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    const { discovery, changes } = discoveryFor({ labelSelector: 'app=vllm', targetPorts: [8000] });
    await discovery.start();
    await waitFor(() => api.openWatches('pods') === 1, 'the pod watch');
    await discovery.close();
    await waitFor(() => api.openWatches() === 0, 'the watch to be closed');
    const requests = api.requests.length;
    api.apply('pods', pod({ name: 'b', namespace: NS, ip: '10.0.0.2', labels: VLLM }));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(api.requests.length).toBe(requests);
    expect(changes).toHaveLength(1);
  });
});

describe('KubernetesDiscovery, InferencePool mode', () => {
  it('takes the pod selector and target ports from the pool', async () => {
    api.apply('inferencepools', inferencePool('qwen', VLLM, [8000], NS));
    api.apply(
      'pods',
      pod({ name: 'member', namespace: NS, ip: '10.0.0.1', labels: { ...VLLM, extra: 'x' } }),
    );
    api.apply('pods', pod({ name: 'not-serving', namespace: NS, ip: '10.0.0.2', labels: { app: 'vllm' } }));
    const { discovery } = discoveryFor({ poolName: 'qwen' });
    expect(discovery.mode).toBe('inferencePool');
    await discovery.start();

    expect(currentIds(discovery)).toEqual(['10.0.0.1:8000']);
    expect(discovery.current()[0]?.kvEventsEndpoint).toBe('tcp://10.0.0.1:5557');
    expect(api.requestsOf('list', 'inferencepools')[0]).toMatchObject({
      path: `/apis/inference.networking.k8s.io/v1/namespaces/${NS}/inferencepools`,
      query: { fieldSelector: 'metadata.name=qwen' },
    });
    expect(api.requestsOf('list', 'pods')[0]?.query.labelSelector).toBe(
      'app=vllm,llm-d.ai/inference-serving=true',
    );
  });

  it('follows edits of the pool: new target ports at once, a new selector once its pods are listed', async () => {
    api.apply('inferencepools', inferencePool('qwen', VLLM, [8000], NS));
    api.apply(
      'pods',
      pod({ name: 'blue', namespace: NS, ip: '10.0.0.1', labels: { ...VLLM, track: 'blue' } }),
    );
    api.apply(
      'pods',
      pod({ name: 'green', namespace: NS, ip: '10.0.0.2', labels: { ...VLLM, track: 'green' } }),
    );
    const { discovery, changes } = discoveryFor({ poolName: 'qwen' });
    await discovery.start();
    expect(currentIds(discovery)).toEqual(['10.0.0.1:8000', '10.0.0.2:8000']);

    api.patch('inferencepools', NS, 'qwen', (p) => {
      (p.spec as { targetPorts: unknown }).targetPorts = [{ number: 8200 }];
    });
    await until(discovery, ['10.0.0.1:8200', '10.0.0.2:8200']);
    expect(api.requestsOf('list', 'pods')).toHaveLength(1);

    api.patch('inferencepools', NS, 'qwen', (p) => {
      (p.spec as { selector: unknown }).selector = { matchLabels: { ...VLLM, track: 'green' } };
    });
    await until(discovery, ['10.0.0.2:8200']);
    expect(api.requestsOf('list', 'pods').at(-1)?.query.labelSelector).toBe(
      'app=vllm,llm-d.ai/inference-serving=true,track=green',
    );
    // The old selector's watch is closed; pods it would have seen no longer matter.
    await waitFor(() => api.openWatches('pods') === 1, 'only the new pod watch');
    api.apply(
      'pods',
      pod({ name: 'blue-2', namespace: NS, ip: '10.0.0.3', labels: { ...VLLM, track: 'blue' } }),
    );
    api.apply(
      'pods',
      pod({ name: 'green-2', namespace: NS, ip: '10.0.0.4', labels: { ...VLLM, track: 'green' } }),
    );
    await until(discovery, ['10.0.0.2:8200', '10.0.0.4:8200']);
    // Never an empty set in between.
    expect(changes.every((set) => set.length > 0)).toBe(true);
  });

  it('keeps the last endpoints and reports while the pool is deleted, and follows it when recreated', async () => {
    api.apply('inferencepools', inferencePool('qwen', VLLM, [8000], NS));
    api.apply('pods', pod({ name: 'a', namespace: NS, ip: '10.0.0.1', labels: VLLM }));
    api.apply('pods', pod({ name: 'b', namespace: NS, ip: '10.0.0.2', labels: { app: 'vllm-next' } }));
    const { discovery, errors } = discoveryFor({ poolName: 'qwen' });
    await discovery.start();

    api.remove('inferencepools', NS, 'qwen');
    await waitFor(() => errors.length === 1, 'a refresh error');
    expect(errors[0]?.message).toBe(
      'InferencePool inference/qwen not found; keeping its last pods until it is recreated',
    );
    expect(currentIds(discovery)).toEqual(['10.0.0.1:8000']);

    api.apply('inferencepools', inferencePool('qwen', { app: 'vllm-next' }, [9000], NS));
    await until(discovery, ['10.0.0.2:9000']);
  });

  it('start() fails when the pool is missing, unusable, or its CRD is not installed', async () => {
    const missing = discoveryFor({ poolName: 'nope' }).discovery;
    await expect(missing.start()).rejects.toThrow('InferencePool inference/nope not found');

    const pool = inferencePool('broken', VLLM, [8000], NS);
    (pool.spec as { targetPorts: unknown[] }).targetPorts = [];
    api.apply('inferencepools', pool);
    const broken = discoveryFor({ poolName: 'broken' }).discovery;
    await expect(broken.start()).rejects.toThrow(
      /InferencePool inference\/broken is not usable: spec\.targetPorts: /,
    );

    api.failNext('list', {
      status: 404,
      resource: 'inferencepools',
      message: 'the server could not find the requested resource',
    });
    const noCrd = discoveryFor({ poolName: 'qwen' }).discovery;
    await expect(noCrd.start()).rejects.toThrow(
      /HTTP 404: .*is the InferencePool CRD inferencepools\.inference\.networking\.k8s\.io v1 installed\?/,
    );
  });
});

describe('KubernetesDiscovery options', () => {
  it.each<[Partial<KubernetesDiscoveryConfig>, string]>([
    [{}, 'give exactly one of a pod label selector or an InferencePool name'],
    [{ labelSelector: 'app=vllm', poolName: 'p', targetPorts: [8000] }, 'exactly one'],
    [{ labelSelector: 'app=vllm' }, 'selector mode needs 1 to 8 target ports'],
    [{ labelSelector: 'app=vllm', targetPorts: [8000, 8000] }, 'target ports must be unique'],
    [{ labelSelector: 'app=vllm', targetPorts: [70000] }, 'target port 70000 is not a port number'],
    [{ poolName: 'p', targetPorts: [8000] }, "target ports come from the InferencePool's spec.targetPorts"],
    [{ poolName: 'p', kvEventsPort: 0 }, 'KV-event port 0 is not a port number'],
    [{ poolName: 'p', namespace: 'Not_A_Namespace' }, 'is not a valid namespace name'],
  ])('rejects %j', (config, message) => {
    expect(
      () => new KubernetesDiscovery({ namespace: NS, kubeConfig: kubeconfig.kubeConfig, ...config }),
    ).toThrow(message);
  });
});
