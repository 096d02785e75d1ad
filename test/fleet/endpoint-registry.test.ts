import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEndpointInfo } from '../../src/fleet/discovery/endpoint-info.ts';
import { FileDiscovery, writeFleetFile } from '../../src/fleet/discovery/file-discovery.ts';
import { ENGINE_TYPE_LABEL } from '../../src/fleet/engine-metrics.ts';
import { EndpointRegistry } from '../../src/fleet/endpoint-registry.ts';
import { SharedFleetState } from '../../src/fleet/shared-state.ts';
import type { EndpointInfo, EndpointSnapshot } from '../../src/fleet/types.ts';
import { ManualDiscovery } from './support/manual-discovery.ts';
import { startFakePod, vllmMetrics, type FakePodServer } from './support/metrics-server.ts';
import { nextEvent, waitFor } from './support/wait.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pod(waiting: number, models: string[] = []): Promise<FakePodServer> {
  const server = await startFakePod({ metricsText: vllmMetrics({ waiting, running: 1, kv: 0.5 }), models });
  cleanups.push(() => server.close());
  return server;
}

const infoOf = (server: FakePodServer, labels: Record<string, string> = {}): EndpointInfo =>
  createEndpointInfo({ host: server.host, port: server.port, labels });

function registryWith(discovery: ManualDiscovery | FileDiscovery, capacity?: number): EndpointRegistry {
  const registry = new EndpointRegistry({
    discovery,
    capacity,
    scraper: { intervalMs: 10, modelsIntervalMs: 40, timeoutMs: 500 },
  });
  cleanups.push(() => registry.close());
  return registry;
}

const byId = (registry: EndpointRegistry, id: string): EndpointSnapshot | undefined =>
  registry.snapshot().endpoints.find((e) => e.info.id === id);

describe('EndpointRegistry', () => {
  it('starts with every endpoint scraped once, and serves FleetViews with live load', async () => {
    const a = await pod(2, ['llama']);
    const b = await pod(5);
    const registry = registryWith(new ManualDiscovery([infoOf(a), infoOf(b)]));
    await registry.start();

    const view = registry.snapshot();
    expect(view.endpoints.map((e) => [e.info.id, e.healthy, e.metrics?.waitingQueueSize])).toEqual([
      [infoOf(a).id, true, 2],
      [infoOf(b).id, true, 5],
    ]);
    await waitFor(() => byId(registry, infoOf(a).id)?.servedModels[0] === 'llama', 'served models');

    b.metricsText = vllmMetrics({ waiting: 11, running: 1, kv: 0.5 });
    await waitFor(() => byId(registry, infoOf(b).id)?.metrics?.waitingQueueSize === 11, 'the new load');

    // In-flight accounting goes through the same table the views come from.
    const ref = registry.shared.refOf(infoOf(a).id)!;
    registry.shared.acquireInflight(ref, 300);
    expect(byId(registry, infoOf(a).id)?.inflight).toEqual({ requests: 1, tokens: 300 });
  });

  it('emits added and removed as discovery changes, freeing removed endpoints', async () => {
    const a = await pod(1);
    const b = await pod(2);
    const discovery = new ManualDiscovery([infoOf(a)]);
    const registry = registryWith(discovery);
    const events: string[] = [];
    registry.on('added', (info) => events.push(`added ${info.id}`));
    registry.on('removed', (info) => events.push(`removed ${info.id}`));
    await registry.start();
    const oldRef = registry.shared.refOf(infoOf(a).id)!;

    discovery.set([infoOf(a), infoOf(b)]);
    discovery.set([infoOf(b)]);
    expect(events).toEqual([`added ${infoOf(a).id}`, `added ${infoOf(b).id}`, `removed ${infoOf(a).id}`]);
    expect(registry.endpoints().map((e) => e.id)).toEqual([infoOf(b).id]);
    expect(registry.shared.acquireInflight(oldRef, 1)).toBe(false);
    await waitFor(() => byId(registry, infoOf(b).id)?.healthy === true, 'b healthy');
    expect(registry.snapshot().endpoints.map((e) => e.info.id)).toEqual([infoOf(b).id]);

    // A removed endpoint is no longer scraped.
    const requests = a.metricsRequests;
    await waitFor(() => b.metricsRequests > 5, 'b scraped a few more times');
    expect(a.metricsRequests).toBe(requests);
  });

  it('follows a fleet file written by the simulator', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'kvedge-registry-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const a = await pod(1);
    const b = await pod(2);
    const path = join(directory, 'fleet.yaml');
    await writeFleetFile(path, [{ address: `127.0.0.1:${a.port}`, kvEvents: 'tcp://127.0.0.1:5557' }]);
    const registry = registryWith(new FileDiscovery({ path, debounceMs: 5 }));
    await registry.start();
    expect(registry.snapshot().endpoints[0]?.info.kvEventsEndpoint).toBe('tcp://127.0.0.1:5557');

    const added = nextEvent<[EndpointInfo]>(registry, 'added');
    await writeFleetFile(path, [{ address: `127.0.0.1:${a.port}` }, { address: `127.0.0.1:${b.port}` }]);
    expect((await added)[0].id).toBe(`127.0.0.1:${b.port}`);
  });

  it('reports health changes and reflects them in views', async () => {
    const a = await pod(1);
    const registry = registryWith(new ManualDiscovery([infoOf(a)]));
    await registry.start();
    const id = infoOf(a).id;

    const down = nextEvent<[EndpointInfo, boolean]>(registry, 'health');
    a.metricsStatus = 500;
    expect((await down)[1]).toBe(false);
    expect(byId(registry, id)?.healthy).toBe(false);
    expect(registry.scrapeState(id)?.lastError).toBe('GET /metrics answered HTTP 500');

    const up = nextEvent<[EndpointInfo, boolean]>(registry, 'health');
    a.metricsStatus = 200;
    expect((await up)[1]).toBe(true);
    expect(byId(registry, id)?.healthy).toBe(true);
  });

  it('re-reads an endpoint with its new engine type when its labels change', async () => {
    const a = await pod(1);
    const discovery = new ManualDiscovery([infoOf(a)]);
    const registry = registryWith(discovery);
    await registry.start();
    const ref = registry.shared.refOf(infoOf(a).id)!;
    registry.shared.acquireInflight(ref, 10);

    a.metricsText =
      'sglang:num_queue_reqs 6\nsglang:num_running_reqs 2\nsglang:token_usage 0.3\nsglang:page_size 1\nsglang:num_pages 100\n';
    const updated = nextEvent<[EndpointInfo, EndpointInfo]>(registry, 'updated');
    discovery.set([infoOf(a, { [ENGINE_TYPE_LABEL]: 'sglang' })]);
    const [info, previous] = await updated;
    expect(info.labels).toEqual({ [ENGINE_TYPE_LABEL]: 'sglang' });
    expect(previous.labels).toEqual({});
    await waitFor(() => byId(registry, info.id)?.metrics?.waitingQueueSize === 6, 'sglang metrics');
    const snapshot = byId(registry, info.id);
    expect(snapshot?.info.labels).toEqual({ [ENGINE_TYPE_LABEL]: 'sglang' });
    // Same endpoint, same slot: the in-flight count survives the update.
    expect(snapshot?.inflight).toEqual({ requests: 1, tokens: 10 });
    expect(snapshot?.healthy).toBe(true);
  });

  it('reports discovery problems and a full table without dropping the fleet', async () => {
    const a = await pod(1);
    const b = await pod(2);
    const discovery = new ManualDiscovery([infoOf(a)]);
    const registry = registryWith(discovery, 1);
    const problems: string[] = [];
    registry.on('problem', (error) => problems.push(error.message));
    await registry.start();
    discovery.fail(new Error('fleet file broken'));
    discovery.set([infoOf(a), infoOf(b)]);
    expect(problems).toEqual([
      'fleet file broken',
      `cannot add endpoint ${infoOf(b).id}: shared fleet table is full (1 endpoints); raise the capacity`,
    ]);
    expect(registry.endpoints().map((e) => e.id)).toEqual([infoOf(a).id]);
  });

  it('publishes into a table that other threads can attach to', async () => {
    const a = await pod(4);
    const registry = registryWith(new ManualDiscovery([infoOf(a)]));
    await registry.start();
    const reader = SharedFleetState.attach(registry.shared.buffer);
    cleanups.push(() => reader.close());
    await reader.ready();
    expect(reader.snapshot(1).endpoints.map((e) => [e.info.id, e.metrics?.waitingQueueSize])).toEqual([
      [infoOf(a).id, 4],
    ]);
  });
});
