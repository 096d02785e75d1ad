/**
 * Shared plumbing of discovery sources: the current set and change de-duplication.
 */
import { EventEmitter } from 'node:events';
import type { EndpointInfo } from '../types.ts';
import type { Discovery, DiscoveryEvents } from './discovery.ts';
import { sameEndpointSet } from './endpoint-info.ts';

export abstract class BaseDiscovery extends EventEmitter<DiscoveryEvents> implements Discovery {
  abstract readonly kind: string;
  #current: readonly EndpointInfo[] = Object.freeze([]);

  abstract start(): Promise<void>;
  abstract close(): Promise<void>;

  current(): readonly EndpointInfo[] {
    return this.#current;
  }

  /** Makes `endpoints` current and emits `change` if it differs from the previous set. */
  protected publish(endpoints: readonly EndpointInfo[]): boolean {
    if (sameEndpointSet(this.#current, endpoints)) return false;
    this.#current = Object.freeze([...endpoints]);
    this.emit('change', this.#current);
    return true;
  }

  /** Reports a failed refresh; the current set is kept. */
  protected reportRefreshError(error: Error): void {
    this.emit('refreshError', error);
  }
}
