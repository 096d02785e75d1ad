/**
 * A discovery source a test drives by hand: `set()` publishes a new endpoint set through the
 * same BaseDiscovery plumbing the real sources use.
 */
import { BaseDiscovery } from '../../../src/fleet/discovery/base-discovery.ts';
import type { EndpointInfo } from '../../../src/fleet/types.ts';

export class ManualDiscovery extends BaseDiscovery {
  readonly kind = 'manual';
  #pending: readonly EndpointInfo[];

  constructor(initial: readonly EndpointInfo[] = []) {
    super();
    this.#pending = initial;
  }

  async start(): Promise<void> {
    this.publish(this.#pending);
  }

  set(endpoints: readonly EndpointInfo[]): void {
    this.publish(endpoints);
  }

  fail(error: Error): void {
    this.reportRefreshError(error);
  }

  async close(): Promise<void> {}
}
