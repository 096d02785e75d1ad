import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DnsDiscovery, type DnsDiscoveryOptions } from '../../src/fleet/discovery/dns-discovery.ts';
import type { EndpointInfo } from '../../src/fleet/types.ts';
import { TestDnsServer } from './support/dns-responder.ts';
import { nextEvent, waitFor } from './support/wait.ts';

let dns: TestDnsServer;
const open: DnsDiscovery[] = [];

beforeEach(async () => {
  dns = await TestDnsServer.start();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((discovery) => discovery.close()));
  await dns.close();
});

function discoveryFor(options: Omit<DnsDiscoveryOptions, 'servers'>): DnsDiscovery {
  const discovery = new DnsDiscovery({ servers: [dns.address], timeoutMs: 200, tries: 1, ...options });
  open.push(discovery);
  return discovery;
}

const ids = (endpoints: readonly EndpointInfo[]): string[] => endpoints.map((e) => e.id);
const SERVICE = 'vllm.inference.svc.cluster.local';

describe('DnsDiscovery, A records', () => {
  it('turns the A records of a headless service into endpoints on a fixed port', async () => {
    dns.setA(SERVICE, ['10.0.0.7', '10.0.0.5']);
    const discovery = discoveryFor({
      name: SERVICE,
      port: 8000,
      kvEventsPort: 5557,
      labels: { 'llm-d.ai/engine-type': 'vllm' },
    });
    await discovery.start();
    expect(discovery.current()).toEqual([
      {
        id: '10.0.0.5:8000',
        host: '10.0.0.5',
        port: 8000,
        labels: { 'llm-d.ai/engine-type': 'vllm' },
        models: [],
        kvEventsEndpoint: 'tcp://10.0.0.5:5557',
      },
      {
        id: '10.0.0.7:8000',
        host: '10.0.0.7',
        port: 8000,
        labels: { 'llm-d.ai/engine-type': 'vllm' },
        models: [],
        kvEventsEndpoint: 'tcp://10.0.0.7:5557',
      },
    ]);
  });

  it('picks up scale-out, scale-in and scale-to-zero on re-resolution', async () => {
    dns.setA(SERVICE, ['10.0.0.5']);
    const discovery = discoveryFor({ name: SERVICE, port: 8000, intervalMs: 25 });
    await discovery.start();

    let change = nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    dns.setA(SERVICE, ['10.0.0.5', '10.0.0.6']);
    expect(ids((await change)[0])).toEqual(['10.0.0.5:8000', '10.0.0.6:8000']);

    change = nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    dns.setA(SERVICE, ['10.0.0.6']);
    expect(ids((await change)[0])).toEqual(['10.0.0.6:8000']);

    // A headless Service with no ready pods answers NXDOMAIN: an authoritative empty fleet.
    change = nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    dns.setA(SERVICE, undefined);
    expect((await change)[0]).toEqual([]);
  });

  it('keeps the last good set on SERVFAIL and timeouts, and reports them', async () => {
    dns.setA(SERVICE, ['10.0.0.5']);
    const discovery = discoveryFor({ name: SERVICE, port: 8000, intervalMs: 25 });
    await discovery.start();
    let changes = 0;
    discovery.on('change', () => changes++);

    dns.mode = 'servfail';
    const [servfail] = await nextEvent<[Error]>(discovery, 'refreshError');
    expect(servfail.message).toBe(`DNS discovery of ${SERVICE}: ESERVFAIL`);

    dns.mode = 'drop';
    await waitFor(() => dns.queryCount('A', SERVICE) > 0, 'a query');
    const [timeout] = await nextEvent<[Error]>(discovery, 'refreshError');
    expect(timeout.message).toBe(`DNS discovery of ${SERVICE}: ETIMEOUT`);
    expect(ids(discovery.current())).toEqual(['10.0.0.5:8000']);
    expect(changes).toBe(0);

    dns.mode = 'answer';
    dns.setA(SERVICE, ['10.0.0.9']);
    const [endpoints] = await nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    expect(ids(endpoints)).toEqual(['10.0.0.9:8000']);
  });

  it('fails to start when the first resolution fails', async () => {
    dns.mode = 'servfail';
    await expect(discoveryFor({ name: SERVICE, port: 8000 }).start()).rejects.toThrow(
      `DNS discovery of ${SERVICE}: ESERVFAIL`,
    );
  });

  it('requires a port in A-record mode', () => {
    expect(() => new DnsDiscovery({ name: SERVICE })).toThrow('A-record mode needs a serving port');
  });
});

describe('DnsDiscovery, SRV records', () => {
  const SRV_NAME = `_http._tcp.${SERVICE}`;

  it('uses SRV ports and resolves SRV targets to addresses', async () => {
    dns.setSrv(SRV_NAME, [
      { priority: 0, weight: 10, port: 8001, target: `pod-a.${SERVICE}` },
      { priority: 0, weight: 10, port: 8002, target: `pod-b.${SERVICE}` },
    ]);
    dns.setA(`pod-a.${SERVICE}`, ['10.1.0.1']);
    dns.setA(`pod-b.${SERVICE}`, ['10.1.0.2']);
    const discovery = discoveryFor({ name: SRV_NAME, recordType: 'srv', intervalMs: 25, kvReplayPort: 5558 });
    await discovery.start();
    expect(ids(discovery.current())).toEqual(['10.1.0.1:8001', '10.1.0.2:8002']);
    expect(discovery.current()[0]?.kvReplayEndpoint).toBe('tcp://10.1.0.1:5558');

    const change = nextEvent<[readonly EndpointInfo[]]>(discovery, 'change');
    dns.setSrv(SRV_NAME, [{ priority: 0, weight: 10, port: 9000, target: `pod-b.${SERVICE}` }]);
    expect(ids((await change)[0])).toEqual(['10.1.0.2:9000']);
  });

  it('treats a vanished SRV target as transient, not as an empty fleet', async () => {
    dns.setSrv(SRV_NAME, [{ priority: 0, weight: 10, port: 8001, target: `pod-a.${SERVICE}` }]);
    dns.setA(`pod-a.${SERVICE}`, ['10.1.0.1']);
    const discovery = discoveryFor({ name: SRV_NAME, recordType: 'srv', intervalMs: 25 });
    await discovery.start();

    dns.setA(`pod-a.${SERVICE}`, undefined);
    const [error] = await nextEvent<[Error]>(discovery, 'refreshError');
    expect(error.message).toBe(`DNS discovery of ${SRV_NAME}: ENOTFOUND (resolving pod-a.${SERVICE})`);
    expect(ids(discovery.current())).toEqual(['10.1.0.1:8001']);
  });
});
