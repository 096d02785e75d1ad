/**
 * Edge configuration: every limit and timeout is explicit, validated once, and serializable (acceptor
 * threads receive it through `workerData`). Defaults are documented field by field.
 *
 * Limits uWebSockets.js enforces on its own (measured against the bundled 20.30 build, not
 * configurable at run time):
 * - at most {@link UWS_MAX_HEADER_FIELDS} request header fields; one more and uWS closes the
 *   connection without answering;
 * - a request head that arrives in more than one TCP read may not exceed 4 KiB (uWS's fallback
 *   buffer; the `UWS_HTTP_MAX_HEADERS_SIZE` variable is not honoured by this build); a head that
 *   arrives in one read may be much larger (~128 KiB measured). Over the limit uWS closes the
 *   connection without answering;
 * - a request waiting for its head or body is closed after 10 s of inactivity, and a response that
 *   cannot drain to a client is closed after 10 s without progress (uWS's HTTP timeouts).
 * Our own checks below sit inside those limits so that clients get a status code where possible.
 */
import { z } from 'zod';

/** Header fields uWS parses per request (its compile-time header array, minus the request line). */
export const UWS_MAX_HEADER_FIELDS = 48;

const MiB = 1024 * 1024;

const upstreamSchema = z
  .object({
    /** Maximum open connections per endpoint pool. Streaming requests hold one each; excess requests queue in the pool. Default 1024. */
    connections: z.number().int().positive().default(1024),
    /** Close an idle upstream keep-alive connection after this long. Below uvicorn's 5 s so we close first. Default 4000. */
    keepAliveTimeoutMs: z.number().int().positive().default(4_000),
    /** TCP connect timeout per attempt. Connect failures are retried on the next endpoint. Default 5000. */
    connectTimeoutMs: z.number().int().positive().default(5_000),
    /** From dispatch to the first response body byte (long prefills). Not retried; 504. Default 60000. */
    firstByteTimeoutMs: z.number().int().positive().default(60_000),
    /** Longest silence between two response body chunks (not counted while we hold the upstream paused). Default 60000. */
    idleTimeoutMs: z.number().int().positive().default(60_000),
    /** Extra attempts on the decision's next endpoints when an attempt fails before any response byte. Default 1. */
    maxRetries: z.number().int().min(0).default(1),
    /** Upstream statuses that are retried (when an attempt is left) instead of relayed. Default [502, 503]. */
    retryOnStatus: z.array(z.number().int().min(100).max(599)).default([502, 503]),
    /**
     * Most response bytes the router holds for one slow client before it gives up on that client.
     * Also the largest non-streaming body that is collected and sent with a Content-Length (bigger or
     * unsized bodies are streamed chunked). Default 1 MiB.
     */
    maxBufferedBytes: z.number().int().positive().default(MiB),
    /**
     * When API keys are enabled the client's Authorization header is the router's key and is not
     * forwarded; this value (e.g. `Bearer <vllm key>`) is sent instead. Null sends none. Default null.
     */
    authorization: z.string().min(1).nullable().default(null),
    /** Close a pool that has not been used for this long (endpoint gone from decisions). Default 300000. */
    poolIdleCloseMs: z.number().int().positive().default(300_000),
  })
  .strict();

export const edgeConfigSchema = z
  .object({
    /** Listen address. Default `0.0.0.0`. */
    host: z.string().min(1).default('0.0.0.0'),
    /** Listen port; 0 picks a free port. Default 8000. */
    port: z.number().int().min(0).max(65_535).default(8000),
    /** Largest request body; enforced while reading (413, connection closed). Default 8 MiB. */
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .default(8 * MiB),
    /**
     * More request header fields than this → 431. Default 40, capped at uWS's 48 (beyond 48 uWS
     * drops the connection itself, so a higher setting could never answer).
     */
    maxHeaderCount: z.number().int().min(1).max(UWS_MAX_HEADER_FIELDS).default(40),
    /** Request header names + values (bytes) above this → 431. Default 16 KiB. */
    maxHeaderBytes: z
      .number()
      .int()
      .positive()
      .default(16 * 1024),
    /** Accepted `Authorization: Bearer` keys; empty disables authentication. Default []. */
    apiKeys: z.array(z.string().min(1)).default([]),
    /** Response header naming the endpoint that served; '' disables it. Default `x-kvedge-endpoint`. */
    endpointHeader: z.string().toLowerCase().default('x-kvedge-endpoint'),
    /** Request header carrying a session id for affinity. Default `x-session-id`. */
    sessionHeader: z.string().min(1).toLowerCase().default('x-session-id'),
    /** Request header naming the objective/priority (llm-d's name). Default `x-llm-d-inference-objective`. */
    objectiveHeader: z.string().min(1).toLowerCase().default('x-llm-d-inference-objective'),
    /** How long shutdown waits for in-flight requests before closing them. Default 30000. */
    drainTimeoutMs: z.number().int().min(0).default(30_000),
    upstream: upstreamSchema.prefault({}),
  })
  .strict();

/** Fully resolved edge configuration. */
export type EdgeConfig = z.output<typeof edgeConfigSchema>;
/** What callers may pass: every field optional. */
export type EdgeConfigInput = z.input<typeof edgeConfigSchema>;
export type UpstreamConfig = EdgeConfig['upstream'];

/** Validate and fill defaults; throws a ZodError naming the bad field. */
export function resolveEdgeConfig(input: EdgeConfigInput = {}): EdgeConfig {
  return edgeConfigSchema.parse(input);
}
