/**
 * A real, simple routing policy behind the RoutingService seam: round-robin over a list of
 * upstreams, the rotation's remaining endpoints as retry candidates, in-flight counts per
 * endpoint, and every lease outcome kept for assertions. Also a factory module for acceptor threads.
 */
import { HttpError } from '../../../src/http/openai-error.ts';
import type { EdgeRequest } from '../../../src/edge/edge-request.ts';
import type {
  DispatchLease,
  DispatchOutcome,
  RoutingDecision,
  RoutingService,
  UpstreamEndpoint,
} from '../../../src/edge/routing-service.ts';
import type { RoutingFactoryContext } from '../../../src/edge/acceptor-threads.ts';

export interface LeaseRecord {
  readonly requestId: string;
  readonly endpointId: string;
  outcome: DispatchOutcome | undefined;
  /** Whether `firstToken` was called before the release. */
  firstTokenBeforeRelease: boolean;
}

export class RoundRobinRouting implements RoutingService {
  readonly leases: LeaseRecord[] = [];
  readonly decided: EdgeRequest[] = [];
  readonly inflight = new Map<string, number>();
  private next = 0;
  private readonly watchers: ((ids: readonly string[]) => void)[] = [];

  constructor(
    public endpoints: UpstreamEndpoint[],
    private readonly served: string[] = ['test-model'],
  ) {}

  /** Replace the endpoint list and tell watchers (as a fleet change would). */
  setEndpoints(endpoints: UpstreamEndpoint[]): void {
    this.endpoints = endpoints;
    for (const watcher of this.watchers) watcher(endpoints.map((e) => e.id));
  }

  watchEndpoints(listener: (ids: readonly string[]) => void): void {
    this.watchers.push(listener);
  }

  models(): readonly string[] {
    return this.served;
  }

  ready(): boolean {
    return this.endpoints.length > 0;
  }

  async decide(request: EdgeRequest): Promise<RoutingDecision> {
    if (!this.served.includes(request.model)) {
      throw new HttpError(404, `The model \`${request.model}\` does not exist.`, 'model');
    }
    if (this.endpoints.length === 0) throw new HttpError(503, 'No endpoints available.');
    this.decided.push(request);
    const start = this.next++ % this.endpoints.length;
    const endpoints = [...this.endpoints.slice(start), ...this.endpoints.slice(0, start)];
    return { endpoints, trace: { policy: 'round-robin', start } };
  }

  dispatched(request: EdgeRequest, _decision: RoutingDecision, endpointId: string): DispatchLease {
    const record: LeaseRecord = {
      requestId: request.requestId,
      endpointId,
      outcome: undefined,
      firstTokenBeforeRelease: false,
    };
    this.leases.push(record);
    this.inflight.set(endpointId, (this.inflight.get(endpointId) ?? 0) + 1);
    return {
      firstToken: () => {
        if (record.firstTokenBeforeRelease) throw new Error('firstToken reported twice');
        if (record.outcome === undefined) record.firstTokenBeforeRelease = true;
      },
      release: (outcome) => {
        if (record.outcome !== undefined) throw new Error('lease released twice');
        record.outcome = outcome;
        this.inflight.set(endpointId, this.inflight.get(endpointId)! - 1);
      },
    };
  }

  async explain(request: EdgeRequest): Promise<unknown> {
    const start = this.next % Math.max(1, this.endpoints.length);
    return {
      policy: 'round-robin',
      model: request.model,
      api: request.api,
      promptText: request.promptText,
      start,
    };
  }

  fleetDebug(): unknown {
    return { endpoints: this.endpoints.map((e) => ({ ...e, inflight: this.inflight.get(e.id) ?? 0 })) };
  }
}

/** Factory for acceptor threads: options are `{ upstreams: UpstreamEndpoint[], models?: string[] }`. */
export function createRoutingService(context: RoutingFactoryContext): RoutingService {
  const options = context.options as { upstreams: UpstreamEndpoint[]; models?: string[] };
  return new RoundRobinRouting(options.upstreams, options.models);
}
