/**
 * A fixed endpoint list, as given to `--endpoints`.
 *
 * Syntax: comma-separated entries `HOST:PORT[@KV_PORT[/REPLAY_PORT]]`.
 * - `HOST:PORT` is the OpenAI/metrics port; IPv6 hosts are bracketed: `[::1]:8000`.
 * - `@KV_PORT` adds the vLLM KV-event publisher on the same host: `tcp://HOST:KV_PORT`.
 * - `/REPLAY_PORT` adds its replay socket: `tcp://HOST:REPLAY_PORT`.
 *
 * Example: `10.0.0.5:8000@5557/5558,10.0.0.6:8000@5557/5558`.
 */
import type { EndpointInfo } from '../types.ts';
import { BaseDiscovery } from './base-discovery.ts';
import {
  assertUniqueIds,
  createEndpointInfo,
  parseHostPort,
  parsePort,
  tcpEndpoint,
} from './endpoint-info.ts';

/**
 * Parses an `--endpoints` value.
 *
 * @throws {Error} naming the bad entry and what is wrong with it.
 */
export function parseStaticEndpoints(spec: string): EndpointInfo[] {
  const entries = spec.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === '')) throw new Error('--endpoints: no endpoints given');
  const endpoints = entries.map((entry, index) => {
    if (entry === '') throw new Error(`--endpoints: entry ${index + 1} is empty (stray comma?)`);
    try {
      return parseStaticEntry(entry);
    } catch (error) {
      throw new Error(
        `--endpoints: entry ${index + 1} ${JSON.stringify(entry)}: ${(error as Error).message}`,
      );
    }
  });
  assertUniqueIds(endpoints, '--endpoints');
  return endpoints;
}

function parseStaticEntry(entry: string): EndpointInfo {
  const at = entry.indexOf('@');
  const address = at === -1 ? entry : entry.slice(0, at);
  const { host, port } = parseHostPort(address);
  if (at === -1) return createEndpointInfo({ host, port });
  const kvPart = entry.slice(at + 1);
  const slash = kvPart.indexOf('/');
  const kvPortText = slash === -1 ? kvPart : kvPart.slice(0, slash);
  if (kvPortText === '') throw new Error('missing KV-event port after "@"');
  const kvPort = parsePort(kvPortText, entry);
  const replayPort = slash === -1 ? undefined : parsePort(kvPart.slice(slash + 1), entry);
  return createEndpointInfo({
    host,
    port,
    kvEventsEndpoint: tcpEndpoint(host, kvPort),
    kvReplayEndpoint: replayPort === undefined ? undefined : tcpEndpoint(host, replayPort),
  });
}

/** Discovery over a list that never changes. */
export class StaticDiscovery extends BaseDiscovery {
  readonly kind = 'static';
  readonly #endpoints: readonly EndpointInfo[];

  /** @param endpoints an endpoint list, or an `--endpoints` string. */
  constructor(endpoints: readonly EndpointInfo[] | string) {
    super();
    const list = typeof endpoints === 'string' ? parseStaticEndpoints(endpoints) : [...endpoints];
    assertUniqueIds(list, 'static endpoints');
    this.#endpoints = list;
  }

  async start(): Promise<void> {
    this.publish(this.#endpoints);
  }

  async close(): Promise<void> {}
}
