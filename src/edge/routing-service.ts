/**
 * The seam between the HTTP edge and the routing brain. The edge parses and validates requests,
 * asks a RoutingService where to send them, and proxies; the scheduler and the fleet live behind
 * this interface (wired by the caller), so the edge never imports them.
 */
import type { Registry } from 'prom-client';
import type { EdgeRequest } from './edge-request.ts';

/** An inference endpoint the edge can proxy to. `id` keys the connection pool (`host:port`). */
export interface UpstreamEndpoint {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/** The routing answer for one request. */
export interface RoutingDecision {
  /** Best first. The first is used; the rest are retry candidates, tried in order. */
  readonly endpoints: readonly UpstreamEndpoint[];
  /**
   * Headers to send upstream with this request (e.g. llm-d's `x-prefiller-host-port` for P/D); they
   * replace any client header of the same name, so a client cannot steer the prefill hop.
   */
  readonly requestHeaders?: Readonly<Record<string, string>>;
  /** Anything the routing brain wants to keep with the decision (scores, profile); not interpreted by the edge. */
  readonly trace?: unknown;
}

/** How a dispatched request ended, reported once per dispatch. */
export interface DispatchOutcome {
  /** True when the endpoint answered and the response was relayed in full with a status below 400. */
  readonly ok: boolean;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly cachedTokens?: number;
  /** Streamed responses only: from dispatch to the first response body byte, measured at the router. */
  readonly ttftMs?: number;
}

/** Returned by `dispatched`; released exactly once when that dispatch ends (success, failure, retry, abort). */
export interface DispatchLease {
  /**
   * Optional: the first body byte of a streamed success response arrived, i.e. the engine emitted
   * the request's first token. Called at most once, before `release`.
   */
  firstToken?(): void;
  release(outcome: DispatchOutcome): void;
}

/** What the edge needs from the routing brain; the lead wires the scheduler + fleet behind it. */
export interface RoutingService {
  /** Union of model names the fleet serves (for GET /v1/models and 404s). */
  models(): readonly string[];
  /** At least one ready endpoint. */
  ready(): boolean;
  /**
   * Pick endpoints for a parsed request, best first (the first is used, the rest are retry
   * candidates). Throws HttpError (404 unknown model, 429 shed, 503 no endpoints).
   */
  decide(request: EdgeRequest): Promise<RoutingDecision>;
  /**
   * Record that the request was sent to `endpointId` (in-flight accounting, prefix recording);
   * returns a lease to release when the response ends. Called once per attempt, so a retried
   * request yields two leases, the first released with `ok: false`.
   */
  dispatched(request: EdgeRequest, decision: RoutingDecision, endpointId: string): DispatchLease;
  /** For POST /debug/route: the full decision trace, JSON-serializable. */
  explain(request: EdgeRequest): Promise<unknown>;
  /** For GET /debug/fleet. */
  fleetDebug(): unknown;
  /**
   * Optional: call `listener` with the ids of all current endpoints whenever the fleet changes, so
   * the edge can close connection pools of endpoints that are gone (unused pools are also closed
   * after `upstream.poolIdleCloseMs`).
   */
  watchEndpoints?(listener: (endpointIds: readonly string[]) => void): void;
  /**
   * Optional: a registry holding the routing brain's own metrics; the edge registers its metrics
   * in it too, so one scrape (summed over acceptor threads) shows both.
   */
  readonly metricsRegistry?: Registry;
  /** Optional: release timers and connections; called by acceptor threads before they exit. */
  close?(): void | Promise<void>;
}
