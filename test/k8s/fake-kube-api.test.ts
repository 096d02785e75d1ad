/**
 * The stand-in API server, checked with client-node's own clients (CoreV1Api, CustomObjectsApi,
 * Watch): if these accept it, the discovery tests exercise the real protocol.
 */
import { CoreV1Api, CustomObjectsApi, Watch } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi } from './support/fake-kube-api.ts';
import { inferencePool, pod, writeKubeconfig } from './support/kube-fixtures.ts';
import { parseLabelSelector } from './support/selectors.ts';

let api: FakeKubeApi;
let kubeconfig: ReturnType<typeof writeKubeconfig>;

beforeEach(async () => {
  api = new FakeKubeApi();
  await api.listen();
  kubeconfig = writeKubeconfig(api.url, api.token);
});
afterEach(async () => {
  await api.close();
  kubeconfig.cleanup();
});

interface Event {
  type: string;
  name?: string;
  rv?: string;
  code?: number;
}

/** Collects a watch's events until it ends; resolves with them and the done() error. */
function collect(path: string, query: Record<string, string>, until: (events: Event[]) => boolean) {
  const events: Event[] = [];
  let stop!: AbortController;
  const done = new Promise<{ events: Event[]; error: unknown }>((resolve) => {
    void new Watch(kubeconfig.kubeConfig)
      .watch(
        path,
        query,
        (type, object) => {
          events.push({
            type,
            name: object?.metadata?.name,
            rv: object?.metadata?.resourceVersion,
            code: object?.code,
          });
          if (until(events)) stop.abort();
        },
        (error) => resolve({ events, error }),
      )
      .then((controller) => {
        stop = controller;
        if (until(events)) controller.abort();
      });
  });
  return done;
}

describe('FakeKubeApi', () => {
  it('lists with label and field selectors through CoreV1Api', async () => {
    api.apply('pods', pod({ name: 'a', ip: '10.0.0.1', labels: { app: 'vllm', tier: 'gpu' } }));
    api.apply('pods', pod({ name: 'b', ip: '10.0.0.2', labels: { app: 'vllm' } }));
    api.apply('pods', pod({ name: 'c', ip: '10.0.0.3', labels: { app: 'other' } }));
    const core = kubeconfig.kubeConfig.makeApiClient(CoreV1Api);
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core.listNamespacedPod({ namespace: 'default', labelSelector, fieldSelector })).items.map(
        (p) => p.metadata?.name,
      );

    expect(await names('app=vllm')).toEqual(['a', 'b']);
    expect(await names('app in (vllm,other),!tier')).toEqual(['b', 'c']);
    expect(await names('app=vllm', 'metadata.name!=a')).toEqual(['b']);
    const list = await core.listNamespacedPod({ namespace: 'default' });
    expect(list.metadata?.resourceVersion).toBe(api.resourceVersion);
    await expect(
      core.listNamespacedPod({ namespace: 'default', fieldSelector: 'spec.bogus=1' }),
    ).rejects.toMatchObject({ code: 400 });
  });

  it('serves InferencePools as custom objects', async () => {
    api.apply('inferencepools', inferencePool('pool', { app: 'vllm' }, [8000]));
    const custom = kubeconfig.kubeConfig.makeApiClient(CustomObjectsApi);
    const list = await custom.listNamespacedCustomObject({
      group: 'inference.networking.k8s.io',
      version: 'v1',
      namespace: 'default',
      plural: 'inferencepools',
    });
    expect(list.items.map((p: { spec: unknown }) => p.spec)).toEqual([
      expect.objectContaining({
        selector: { matchLabels: { app: 'vllm' } },
        targetPorts: [{ number: 8000 }],
      }),
    ]);
  });

  it('streams history then live events from a resourceVersion, with selector-aware ADDED/DELETED and bookmarks', async () => {
    api.apply('pods', pod({ name: 'a', ip: '10.0.0.1', labels: { app: 'vllm' } }));
    const from = api.resourceVersion;
    api.apply('pods', pod({ name: 'b', ip: '10.0.0.2', labels: { app: 'vllm' } }));
    const watching = collect(
      '/api/v1/namespaces/default/pods',
      { resourceVersion: from, labelSelector: 'app=vllm', allowWatchBookmarks: 'true' },
      (events) => events.length === 5,
    );
    // Bookmarks go to open watches only; everything else would also arrive through history replay.
    while (api.openWatches() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    api.patch('pods', 'default', 'a', (p) => {
      p.metadata.labels = { app: 'retired' };
    });
    api.patch('pods', 'default', 'a', (p) => {
      p.metadata.labels = { app: 'vllm' };
    });
    api.remove('pods', 'default', 'b');
    api.bookmark();
    const { events } = await watching;
    expect(events.map((e) => [e.type, e.name])).toEqual([
      ['ADDED', 'b'],
      ['DELETED', 'a'],
      ['ADDED', 'a'],
      ['DELETED', 'b'],
      ['BOOKMARK', undefined],
    ]);
    // Versions only grow, and the bookmark carries the newest.
    const versions = events.map((e) => Number(e.rv));
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(events.at(-1)?.rv).toBe(api.resourceVersion);
  });

  it('answers a compacted resourceVersion with ERROR 410 then ends the stream', async () => {
    api.apply('pods', pod({ name: 'a', ip: '10.0.0.1' }));
    const old = api.resourceVersion;
    api.apply('pods', pod({ name: 'b', ip: '10.0.0.2' }));
    api.compact();
    const { events, error } = await collect(
      '/api/v1/namespaces/default/pods',
      { resourceVersion: old },
      () => false,
    );
    expect(events).toEqual([{ type: 'ERROR', code: 410, name: undefined, rv: undefined }]);
    expect(error).toBeNull();
  });

  it('reports an HTTP 410 watch and a bad token as errors with status codes', async () => {
    api.goneOnNextWatch();
    const gone = await collect('/api/v1/namespaces/default/pods', { resourceVersion: '1' }, () => false);
    expect(gone.error).toMatchObject({ statusCode: 410 });
    const wrong = writeKubeconfig(api.url, 'wrong');
    try {
      const core = wrong.kubeConfig.makeApiClient(CoreV1Api);
      await expect(core.listNamespacedPod({ namespace: 'default' })).rejects.toMatchObject({ code: 401 });
    } finally {
      wrong.cleanup();
    }
  });
});

describe('parseLabelSelector', () => {
  it.each([
    ['a=1', { a: '1' }, true],
    ['a==1,b!=2', { a: '1', b: '3' }, true],
    ['a!=1', {}, true],
    ['a', { a: '' }, true],
    ['!a', { a: 'x' }, false],
    ['a in (1, 2)', { a: '2' }, true],
    ['a notin (1,2)', { a: '2' }, false],
    ['', { anything: 'x' }, true],
  ])('%j on %j is %s', (selector, labels, expected) => {
    expect(parseLabelSelector(selector)(labels)).toBe(expected);
  });

  it('rejects malformed selectors', () => {
    expect(() => parseLabelSelector('a=1=2')).toThrow('unable to parse requirement');
  });
});
