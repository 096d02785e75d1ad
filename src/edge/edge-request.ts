/** A parsed, validated inference request as the edge hands it to the routing brain. */

/** The OpenAI-compatible APIs the edge routes. */
export type OpenAiApi = 'chat' | 'completions' | 'embeddings' | 'responses';

export interface EdgeRequest {
  /** From the client's `x-request-id` when acceptable, else a fresh UUID; sent upstream and back. */
  readonly requestId: string;
  readonly api: OpenAiApi;
  /** Request path and query as received (`/v1/chat/completions?x=1`); forwarded as is. */
  readonly path: string;
  readonly model: string;
  /** The parsed JSON body. Read only: the upstream gets `rawBody`, never a re-serialization. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The body bytes exactly as received. */
  readonly rawBody: Buffer;
  readonly stream: boolean;
  /**
   * Flattened text for approximate prefix routing: chat messages as `role\ncontent\n` in order,
   * completion prompt strings, embedding inputs, responses instructions then input. Token-id
   * prompts contribute nothing (they have no text).
   */
  readonly promptText: string;
  /** End-to-end request headers, lower-case names (hop-by-hop headers already removed). */
  readonly headers: Readonly<Record<string, string>>;
  /** Value of the objective/priority header (llm-d `x-llm-d-inference-objective` by default). */
  readonly objective: string | undefined;
  /** Value of the configured session header (`x-session-id` by default). */
  readonly sessionId: string | undefined;
  /** `performance.now()` when the request line arrived at the router. */
  readonly receivedAt: number;
}
