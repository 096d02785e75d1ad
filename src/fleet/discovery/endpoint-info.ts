/**
 * Building and comparing {@link EndpointInfo} values, shared by every discovery source.
 */
import { isIP } from 'node:net';
import type { EndpointInfo } from '../types.ts';

/** A host and port, as parsed from `host:port` or `[v6addr]:port`. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOSTNAME_PATTERN = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/;

/**
 * Parses `host:port`. IPv6 addresses must be bracketed (`[::1]:8000`); the returned host is
 * unbracketed.
 *
 * @throws {Error} saying what is wrong with the text.
 */
export function parseHostPort(text: string): HostPort {
  const trimmed = text.trim();
  let host: string;
  let portText: string;
  if (trimmed.startsWith('[')) {
    const close = trimmed.indexOf(']');
    if (close === -1 || trimmed[close + 1] !== ':') {
      throw new Error(`invalid address ${JSON.stringify(text)}: expected [ipv6]:port`);
    }
    host = trimmed.slice(1, close);
    portText = trimmed.slice(close + 2);
    if (isIP(host) !== 6)
      throw new Error(`invalid address ${JSON.stringify(text)}: ${host} is not an IPv6 address`);
  } else {
    const colon = trimmed.lastIndexOf(':');
    if (colon === -1) throw new Error(`invalid address ${JSON.stringify(text)}: expected host:port`);
    host = trimmed.slice(0, colon);
    portText = trimmed.slice(colon + 1);
    if (host.includes(':')) {
      throw new Error(
        `invalid address ${JSON.stringify(text)}: IPv6 addresses must be bracketed, e.g. [::1]:8000`,
      );
    }
    validateHost(host, text);
  }
  return { host, port: parsePort(portText, text) };
}

/** Validates a host name or IP literal (no port). */
export function validateHost(host: string, context: string = host): void {
  if (host === '') throw new Error(`invalid address ${JSON.stringify(context)}: empty host`);
  if (isIP(host) === 0 && !HOSTNAME_PATTERN.test(host)) {
    throw new Error(
      `invalid address ${JSON.stringify(context)}: ${JSON.stringify(host)} is not a host name or IP address`,
    );
  }
}

/**
 * Parses a TCP port, 1..65535.
 *
 * @throws {Error} mentioning `context` when the text is not a valid port.
 */
export function parsePort(text: string, context: string = text): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new Error(`invalid port ${JSON.stringify(text)} in ${JSON.stringify(context)}`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new Error(`port ${port} out of range 1-65535 in ${JSON.stringify(context)}`);
  }
  return port;
}

/** `host:port`, bracketing IPv6 hosts. This is the endpoint id format. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Fields to build an {@link EndpointInfo} from. */
export interface EndpointInfoInit {
  readonly host: string;
  readonly port: number;
  readonly labels?: Readonly<Record<string, string>>;
  readonly models?: readonly string[];
  readonly kvEventsEndpoint?: string;
  readonly kvReplayEndpoint?: string;
}

/** Builds a frozen EndpointInfo with id `host:port`. */
export function createEndpointInfo(init: EndpointInfoInit): EndpointInfo {
  const info: {
    -readonly [K in keyof EndpointInfo]: EndpointInfo[K];
  } = {
    id: formatHostPort(init.host, init.port),
    host: init.host,
    port: init.port,
    labels: Object.freeze({ ...init.labels }),
    models: Object.freeze([...(init.models ?? [])]),
  };
  if (init.kvEventsEndpoint !== undefined) info.kvEventsEndpoint = init.kvEventsEndpoint;
  if (init.kvReplayEndpoint !== undefined) info.kvReplayEndpoint = init.kvReplayEndpoint;
  return Object.freeze(info);
}

/** `tcp://host:port` for a ZeroMQ endpoint on the given host. */
export function tcpEndpoint(host: string, port: number): string {
  return `tcp://${formatHostPort(host, port)}`;
}

/** Value equality of two endpoint descriptions. */
export function sameEndpointInfo(a: EndpointInfo, b: EndpointInfo): boolean {
  if (a === b) return true;
  if (
    a.id !== b.id ||
    a.host !== b.host ||
    a.port !== b.port ||
    a.kvEventsEndpoint !== b.kvEventsEndpoint ||
    a.kvReplayEndpoint !== b.kvReplayEndpoint ||
    a.models.length !== b.models.length
  ) {
    return false;
  }
  for (let i = 0; i < a.models.length; i++) if (a.models[i] !== b.models[i]) return false;
  const aKeys = Object.keys(a.labels);
  if (aKeys.length !== Object.keys(b.labels).length) return false;
  for (const key of aKeys) if (a.labels[key] !== b.labels[key]) return false;
  return true;
}

/** Order-insensitive value equality of two endpoint sets (by id, then by content). */
export function sameEndpointSet(a: readonly EndpointInfo[], b: readonly EndpointInfo[]): boolean {
  if (a.length !== b.length) return false;
  const byId = new Map(a.map((info) => [info.id, info]));
  for (const info of b) {
    const other = byId.get(info.id);
    if (other === undefined || !sameEndpointInfo(other, info)) return false;
  }
  return true;
}

/**
 * Throws when two entries share an id; discovery sources call this so a fleet never holds two
 * descriptions of the same endpoint.
 */
export function assertUniqueIds(endpoints: readonly EndpointInfo[], source: string): void {
  const seen = new Set<string>();
  for (const info of endpoints) {
    if (seen.has(info.id)) throw new Error(`${source}: endpoint ${info.id} is listed twice`);
    seen.add(info.id);
  }
}
