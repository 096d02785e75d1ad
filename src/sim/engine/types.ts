/**
 * Public API of the simulated vLLM engine (a step-based scheduler over a paged KV block pool with
 * prefix caching). The HTTP server and the discrete-event benchmark both drive an engine through
 * these types only.
 */
import type { BlockExtraKeys, KvEvent } from '../../kv-protocol/events.ts';

/** Step-time model coefficients: step seconds = a + b*prefillTokens + c*decodeSeqs + d*contextTokens. */
export interface TimingProfile {
  readonly name: string;
  readonly description: string;
  /** Fixed per-step overhead, seconds. */
  readonly a: number;
  /** Seconds per prefill (uncached prompt) token computed in the step. */
  readonly b: number;
  /** Seconds per sequence decoded in the step. */
  readonly c: number;
  /** Seconds per token of KV context attended to by the step's sequences (attention cost). */
  readonly d: number;
  /** Seconds to receive one token's KV over the P/D transfer path (NIXL). */
  readonly kvTransferPerToken: number;
  /**
   * KV-cache capacity of this model on this hardware, in tokens (vLLM's "GPU KV cache size"):
   * the default pool is `floor(kvCacheTokens / blockSize)` blocks.
   */
  readonly kvCacheTokens: number;
}

export interface EngineConfig {
  /** Served model name (the base model). */
  readonly model: string;
  readonly blockSize: number;
  readonly numGpuBlocks: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly maxModelLen: number;
  /** Waiting-queue bound; a submit beyond it is rejected (HTTP 429). */
  readonly maxWaitingRequests: number;
  readonly maxLoras: number;
  readonly enablePrefixCaching: boolean;
  readonly timing: TimingProfile;
  /** Block-hash algorithm for prefix caching and KV events. */
  readonly hashAlgo: 'sha256_cbor' | 'sha256';
  /** PYTHONHASHSEED equivalent; vLLM seeds NONE_HASH from it. */
  readonly pythonHashSeed: string;
}

export interface EngineRequest {
  readonly id: string;
  readonly promptTokenIds: readonly number[];
  /** Number of tokens to generate (the simulator always generates exactly this many: ignore_eos). */
  readonly maxTokens: number;
  /** LoRA adapter name, or null for the base model. */
  readonly loraName: string | null;
  readonly cacheSalt: string | null;
  /**
   * Output token ids to emit, in order. Length >= maxTokens. The server picks tokens that
   * round-trip through the tokenizer so a follow-up turn can hit the cached answer.
   */
  readonly outputTokenIds: readonly number[];
  /** P/D: run prefill only and hand off (vLLM `do_remote_decode`). */
  readonly remoteDecode?: boolean;
  /** P/D: KV arrives from a prefill pod; skip prefill compute, pay a transfer time. */
  readonly remotePrefill?: boolean;
  /** Larger = scheduled earlier among waiting requests (vLLM priority scheduling inverted); default 0. */
  readonly priority?: number;
}

export interface RequestResult {
  readonly promptTokens: number;
  /** Prompt tokens served from the prefix cache (multiple of blockSize, < promptTokens). */
  readonly cachedTokens: number;
  readonly completionTokens: number;
  readonly finishReason: 'length' | 'stop' | 'abort' | 'error';
  /** Engine times (seconds, the engine clock); NaN for a point the request never reached (abort). */
  readonly arrivalTime: number;
  readonly firstScheduledTime: number;
  readonly firstTokenTime: number;
  readonly finishTime: number;
  /** Times the request was preempted (recompute) and sent back to the waiting queue. */
  readonly preemptions: number;
}

export interface RequestObserver {
  /** Called once per generated token, in order; `index` 0 is the first token. */
  onToken(tokenId: number, index: number, time: number): void;
  onFinish(result: RequestResult): void;
}

export type SubmitOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'queue_full' | 'too_long' | 'lora_unknown';
      readonly message: string;
    };

export interface EngineStats {
  readonly running: number;
  readonly waiting: number;
  /** Fraction of KV blocks in use by requests (0..1), as vllm:kv_cache_usage_perc. */
  readonly kvCacheUsage: number;
  readonly numGpuBlocks: number;
  readonly blockSize: number;
  /** Cumulative prompt tokens queried against / found in the prefix cache. */
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
  readonly promptTokensTotal: number;
  readonly generationTokensTotal: number;
  readonly preemptionsTotal: number;
  readonly runningLoras: readonly string[];
  readonly waitingLoras: readonly string[];
  readonly stepsTotal: number;
}

/** Per-block extra keys for a request, as vLLM's `generate_block_hash_extra_keys` would produce. */
export type ExtraKeysFn = (blockIndex: number) => BlockExtraKeys;

export interface EngineHooks {
  /**
   * Events produced by one engine step (vLLM publishes one KVEventBatch per step with events),
   * delivered at the step's end time, before that step's tokens reach observers. A successful
   * `resetPrefixCache()` delivers its `AllBlocksCleared` at once.
   */
  onKvEvents?(events: readonly KvEvent[], time: number): void;
}

/**
 * vLLM's chained block hash (`hash_block_tokens`): the digest of
 * `(parent ?? NONE_HASH, tuple(tokens), extraKeys)`. `parent` is null for block 0; the function
 * supplies its own root seed. The engine calls it once per full block per request and uses the
 * digest bytes both as the prefix-cache key and as the `WireBlockHash` of KV events.
 */
export type BlockHashFn = (
  parent: Uint8Array | null,
  tokens: readonly number[],
  extraKeys: BlockExtraKeys,
) => Uint8Array;

/** Constructor options of the simulated engine. */
export interface EngineOptions {
  readonly hashBlock: BlockHashFn;
  readonly hooks?: EngineHooks;
}

/** What the HTTP server and the benchmark drive: one simulated vLLM engine. */
export interface Engine {
  readonly config: EngineConfig;
  /**
   * Queue a request. Every accepted request gets exactly one `observer.onFinish` (also when
   * aborted). Throws on malformed requests (empty prompt, duplicate id, too few output tokens).
   */
  submit(request: EngineRequest, observer: RequestObserver): SubmitOutcome;
  /** Abort a queued or running request and free its blocks; false if the id is unknown. */
  abort(id: string): boolean;
  /** Abort every request in the engine (pod crash or shutdown); returns how many. */
  abortAll(): number;
  stats(): EngineStats;
  /** vLLM `/reset_prefix_cache`: succeeds only when no block is held by a request. */
  resetPrefixCache(): boolean;
}
