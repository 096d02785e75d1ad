import { describe, expect, it } from 'vitest';
import { createEndpointInfo, parseHostPort } from '../../src/fleet/discovery/endpoint-info.ts';
import { parseStaticEndpoints, StaticDiscovery } from '../../src/fleet/discovery/static-discovery.ts';

describe('parseStaticEndpoints', () => {
  it('parses host:port entries with optional KV-event and replay ports', () => {
    const endpoints = parseStaticEndpoints(' 10.0.0.5:8000@5557/5558, vllm-1.local:8001 ,[::1]:9000@5557');
    expect(endpoints).toEqual([
      {
        id: '10.0.0.5:8000',
        host: '10.0.0.5',
        port: 8000,
        labels: {},
        models: [],
        kvEventsEndpoint: 'tcp://10.0.0.5:5557',
        kvReplayEndpoint: 'tcp://10.0.0.5:5558',
      },
      { id: 'vllm-1.local:8001', host: 'vllm-1.local', port: 8001, labels: {}, models: [] },
      {
        id: '[::1]:9000',
        host: '::1',
        port: 9000,
        labels: {},
        models: [],
        kvEventsEndpoint: 'tcp://[::1]:5557',
      },
    ]);
  });

  it.each([
    ['', '--endpoints: no endpoints given'],
    ['a:1,,b:2', '--endpoints: entry 2 is empty (stray comma?)'],
    ['localhost', '--endpoints: entry 1 "localhost": invalid address "localhost": expected host:port'],
    ['a:1,b:http', '--endpoints: entry 2 "b:http": invalid port "http" in "b:http"'],
    ['a:70000', 'port 70000 out of range 1-65535 in "a:70000"'],
    ['a:0', 'port 0 out of range 1-65535'],
    [':8000', 'invalid address ":8000": empty host'],
    ['::1:8000', 'IPv6 addresses must be bracketed, e.g. [::1]:8000'],
    ['[zz]:8000', 'zz is not an IPv6 address'],
    ['a b:8000', '"a b" is not a host name or IP address'],
    ['a:1@', 'missing KV-event port after "@"'],
    ['a:1@x', 'invalid port "x" in "a:1@x"'],
    ['a:1@5557/', 'invalid port "" in "a:1@5557/"'],
    ['a:1,a:1@5', '--endpoints: endpoint a:1 is listed twice'],
  ])('rejects %j', (spec, message) => {
    expect(() => parseStaticEndpoints(spec)).toThrow(message);
  });

  it('parses host:port on its own', () => {
    expect(parseHostPort('[fe80::1]:80')).toEqual({ host: 'fe80::1', port: 80 });
  });
});

describe('StaticDiscovery', () => {
  it('publishes its list once on start', async () => {
    const discovery = new StaticDiscovery('127.0.0.1:8100,127.0.0.1:8101');
    const changes: unknown[] = [];
    discovery.on('change', (endpoints) => changes.push(endpoints));
    expect(discovery.current()).toEqual([]);
    await discovery.start();
    expect(discovery.current().map((e) => e.id)).toEqual(['127.0.0.1:8100', '127.0.0.1:8101']);
    expect(changes).toHaveLength(1);
    await discovery.close();
  });

  it('rejects duplicate ids in a given list', () => {
    const info = createEndpointInfo({ host: 'h', port: 1 });
    expect(() => new StaticDiscovery([info, info])).toThrow('static endpoints: endpoint h:1 is listed twice');
  });
});
