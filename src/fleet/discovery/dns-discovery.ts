/**
 * Discovery through DNS, re-resolved periodically.
 *
 * - `a` mode: the A records of a name (typically a Kubernetes headless Service,
 *   `vllm.ns.svc.cluster.local`) plus a fixed serving port.
 * - `srv` mode: the SRV records of a name (`_http._tcp.vllm.ns.svc.cluster.local`); each record
 *   gives a target and a port, and targets that are host names are resolved to their A records.
 *   Priority and weight are ignored: every target is a fleet member.
 *
 * An answer of "no such name" or "no records" is authoritative and yields an empty fleet (a
 * headless Service scaled to zero answers NXDOMAIN). Any other failure (timeout, SERVFAIL,
 * refused) keeps the last good set and emits `refreshError`.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { EndpointInfo } from '../types.ts';
import { BaseDiscovery } from './base-discovery.ts';
import { createEndpointInfo, tcpEndpoint } from './endpoint-info.ts';

export interface DnsDiscoveryOptions {
  /** The name to resolve. */
  readonly name: string;
  /** `a` (default) or `srv`. */
  readonly recordType?: 'a' | 'srv';
  /** Serving port of every endpoint; required in `a` mode, ignored in `srv` mode. */
  readonly port?: number;
  /** DNS servers (`ip` or `ip:port`, IPv6 as `[ip]:port`); default: the system's. */
  readonly servers?: readonly string[];
  /** Re-resolve interval. Default 5000 ms. */
  readonly intervalMs?: number;
  /** Per-attempt query timeout. Default 2000 ms. */
  readonly timeoutMs?: number;
  /** Attempts per query. Default 2. */
  readonly tries?: number;
  /** Port of each endpoint's KV-event publisher (`tcp://ip:port`), if any. */
  readonly kvEventsPort?: number;
  /** Port of each endpoint's KV-event replay socket, if any. */
  readonly kvReplayPort?: number;
  /** Labels given to every discovered endpoint (e.g. the engine type). */
  readonly labels?: Readonly<Record<string, string>>;
}

/** c-ares codes meaning the server answered: the name has no (such) records. */
const AUTHORITATIVE_EMPTY = new Set(['ENOTFOUND', 'ENODATA']);

export class DnsDiscovery extends BaseDiscovery {
  readonly kind = 'dns';
  readonly #options: DnsDiscoveryOptions;
  readonly #resolver: Resolver;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #closed = false;

  /** @throws {Error} on inconsistent options (missing port in `a` mode, bad server address). */
  constructor(options: DnsDiscoveryOptions) {
    super();
    if (options.name.trim() === '') throw new Error('DNS discovery: name is required');
    const recordType = options.recordType ?? 'a';
    if (
      recordType === 'a' &&
      (options.port === undefined ||
        !Number.isInteger(options.port) ||
        options.port < 1 ||
        options.port > 65535)
    ) {
      throw new Error(`DNS discovery of ${options.name}: A-record mode needs a serving port (1-65535)`);
    }
    this.#options = options;
    this.#resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
    if (options.servers !== undefined && options.servers.length > 0) {
      this.#resolver.setServers([...options.servers]);
    }
  }

  /** Resolves once, then every `intervalMs`. @throws {Error} if the first resolution fails. */
  async start(): Promise<void> {
    this.publish(await this.#resolve());
    if (this.#closed) return;
    this.#timer = setInterval(() => void this.refresh(), this.#options.intervalMs ?? 5000);
    this.#timer.unref();
  }

  /** Re-resolves now (no-op if a resolution is already running). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const endpoints = await this.#resolve();
        if (!this.#closed) this.publish(endpoints);
      } catch (error) {
        if (!this.#closed) this.reportRefreshError(error as Error);
      }
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#resolver.cancel();
    await this.#refreshing;
  }

  async #resolve(): Promise<EndpointInfo[]> {
    const { name } = this.#options;
    const targets: Array<{ host: string; port: number }> = [];
    try {
      if ((this.#options.recordType ?? 'a') === 'a') {
        for (const address of await this.#resolver.resolve4(name)) {
          targets.push({ host: address, port: this.#options.port as number });
        }
      } else {
        for (const record of await this.#resolver.resolveSrv(name)) {
          const target = record.name.replace(/\.$/, '');
          const hosts = isIP(target) !== 0 ? [target] : await this.#resolver.resolve4(target);
          for (const host of hosts) targets.push({ host, port: record.port });
        }
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      // Only the queried name itself being absent means "empty fleet"; a vanished SRV target
      // during a rollout is transient.
      const hostname = (error as { hostname?: string }).hostname;
      if (AUTHORITATIVE_EMPTY.has(code) && (hostname === undefined || hostname === name)) return [];
      throw new Error(
        `DNS discovery of ${name}: ${code || (error as Error).message}${hostname !== undefined && hostname !== name ? ` (resolving ${hostname})` : ''}`,
        {
          cause: error,
        },
      );
    }
    return this.#toEndpoints(targets);
  }

  #toEndpoints(targets: ReadonlyArray<{ host: string; port: number }>): EndpointInfo[] {
    const { kvEventsPort, kvReplayPort, labels } = this.#options;
    const byId = new Map<string, EndpointInfo>();
    for (const { host, port } of targets) {
      const info = createEndpointInfo({
        host,
        port,
        labels,
        kvEventsEndpoint: kvEventsPort === undefined ? undefined : tcpEndpoint(host, kvEventsPort),
        kvReplayEndpoint: kvReplayPort === undefined ? undefined : tcpEndpoint(host, kvReplayPort),
      });
      byId.set(info.id, info);
    }
    // DNS servers rotate record order; sort so an unchanged set compares equal.
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
