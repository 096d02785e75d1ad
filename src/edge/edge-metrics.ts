/**
 * Prometheus metrics the HTTP edge records. Each EdgeMetrics owns its registry so several edges
 * (tests, acceptor threads) never collide; acceptor threads are summed by the supervisor.
 *
 * llm-d equivalents (llm-d-router `llm_d_epp_*`, reference §4.2) are named on each metric.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Client-supplied label values (model names) are capped like llm-d does: 1000 distinct, then `other`. */
const MAX_MODEL_LABELS = 1000;

/** Latency buckets from 5 ms to 10 min: inference requests range from embeddings to long generations. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const TTFT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Why an upstream attempt failed (label `kind` of kvedge_upstream_errors_total). */
export type UpstreamErrorKind =
  | 'connect'
  | 'connect_timeout'
  | 'reset'
  | 'status'
  | 'first_byte_timeout'
  | 'idle_timeout'
  | 'client_too_slow'
  | 'other';

export class EdgeMetrics {
  readonly registry: Registry;
  /** llm-d: `request_total` + `request_error_total` (we keep the status as a label instead). */
  readonly requests: Counter<'model' | 'status' | 'endpoint'>;
  /** llm-d: `request_duration_seconds`. From request arrival to the last byte handed to the client. */
  readonly duration: Histogram<'model'>;
  /**
   * llm-d: `request_ttft_seconds{streaming}`. Router-observed: from request arrival to the first
   * response body byte from the upstream (includes routing and the upstream's prefill).
   */
  readonly ttft: Histogram<'model' | 'streaming'>;
  /** No llm-d equivalent (Envoy owns retries there; see `envoy_cluster_upstream_rq_retry`). */
  readonly retries: Counter<'reason'>;
  /** No direct llm-d equivalent (Envoy's `upstream_cx_connect_fail`, `upstream_rq_timeout`, …). */
  readonly upstreamErrors: Counter<'kind'>;
  /** llm-d: `request_running` (gauge). Requests accepted by the edge and not yet finished. */
  readonly inflight: Gauge;
  /** Response bytes held for clients that read slower than the upstream writes (bounded per response). */
  readonly bufferedBytes: Gauge;
  private readonly models = new Set<string>();

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.requests = new Counter({
      name: 'kvedge_requests_total',
      help: 'Inference requests answered by the edge, by model, HTTP status (499: client went away) and serving endpoint.',
      labelNames: ['model', 'status', 'endpoint'],
      registers,
    });
    this.duration = new Histogram({
      name: 'kvedge_request_duration_seconds',
      help: 'Time from request arrival to the end of the response, as seen by the router.',
      labelNames: ['model'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.ttft = new Histogram({
      name: 'kvedge_ttft_seconds',
      help: 'Time from request arrival to the first response body byte from the upstream.',
      labelNames: ['model', 'streaming'],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.retries = new Counter({
      name: 'kvedge_retries_total',
      help: 'Requests re-sent to the next endpoint of their decision, by the failure that caused it.',
      labelNames: ['reason'],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'kvedge_upstream_errors_total',
      help: 'Failed upstream attempts by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.inflight = new Gauge({
      name: 'kvedge_inflight_requests',
      help: 'Inference requests in progress at the edge.',
      registers,
    });
    this.bufferedBytes = new Gauge({
      name: 'kvedge_buffered_response_bytes',
      help: 'Response bytes held by the router for slow clients (all responses).',
      registers,
    });
  }

  /** The model label for a client-supplied name, capped in cardinality. */
  modelLabel(model: string | undefined): string {
    if (model === undefined || model === '') return '';
    if (this.models.has(model)) return model;
    if (this.models.size >= MAX_MODEL_LABELS) return 'other';
    this.models.add(model);
    return model;
  }
}
