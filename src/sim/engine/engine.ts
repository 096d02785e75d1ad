/**
 * The simulated vLLM engine: a step loop over the scheduler, timed by the step-time model on
 * whatever clock it is given (wall time behind HTTP, virtual time in the benchmark).
 *
 * The loop runs only while there is work: an idle engine holds no timer, and a submit (or KV
 * landing, or blocks being released) starts the next step. Within a busy period steps follow
 * each other back to back, like vLLM's busy loop.
 */
import { BlockPool } from './block-pool.ts';
import type { Clock } from './clock.ts';
import { KvCacheManager } from './kv-cache-manager.ts';
import { Scheduler } from './scheduler.ts';
import { stepSeconds } from './step-time.ts';
import type {
  Engine,
  EngineConfig,
  EngineHooks,
  EngineOptions,
  EngineRequest,
  EngineStats,
  RequestObserver,
  SubmitOutcome,
} from './types.ts';

/** Block-level state for tests and debugging. */
export interface EngineInternals {
  /** Blocks referenced by requests. */
  readonly usedBlocks: number;
  /** Blocks registered in the prefix cache, referenced or not. */
  readonly cachedBlocks: number;
  /** Blocks in the free queue (cached ones included). */
  readonly freeBlocks: number;
  /** Block hashes computed so far. */
  readonly hashCalls: number;
  /** Finished P/D prefill legs whose blocks the decode side has not finished pulling. */
  readonly pinnedRequests: number;
}

function assertPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
}

function validateConfig(config: EngineConfig): void {
  assertPositiveInt('blockSize', config.blockSize);
  assertPositiveInt('numGpuBlocks', config.numGpuBlocks);
  assertPositiveInt('maxNumSeqs', config.maxNumSeqs);
  assertPositiveInt('maxNumBatchedTokens', config.maxNumBatchedTokens);
  assertPositiveInt('maxModelLen', config.maxModelLen);
  if (!Number.isInteger(config.maxWaitingRequests) || config.maxWaitingRequests < 0) {
    throw new RangeError(`maxWaitingRequests must be an integer >= 0`);
  }
  if (!Number.isInteger(config.maxLoras) || config.maxLoras < 0)
    throw new RangeError(`maxLoras must be >= 0`);
  const { a, b, c, d, kvTransferPerToken } = config.timing;
  for (const [k, v] of Object.entries({ a, b, c, d, kvTransferPerToken })) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`timing.${k} must be a finite number >= 0`);
  }
  // vLLM refuses to start when one max-length sequence cannot fit in the KV cache; here it would
  // also be a request that can never be admitted.
  const maxCapacity = config.numGpuBlocks * config.blockSize;
  if (config.maxModelLen > maxCapacity) {
    throw new RangeError(
      `maxModelLen (${config.maxModelLen}) is larger than the KV cache (${maxCapacity} tokens = ` +
        `${config.numGpuBlocks} blocks x ${config.blockSize})`,
    );
  }
}

function validateRequest(request: EngineRequest): void {
  if (request.promptTokenIds.length === 0) throw new RangeError(`request ${request.id}: empty prompt`);
  assertPositiveInt(`request ${request.id}: maxTokens`, request.maxTokens);
  if (request.outputTokenIds.length < request.maxTokens) {
    throw new RangeError(`request ${request.id}: outputTokenIds has fewer than maxTokens ids`);
  }
  if (request.remoteDecode && request.remotePrefill) {
    throw new RangeError(`request ${request.id}: remoteDecode and remotePrefill are exclusive`);
  }
}

export class SimEngine implements Engine {
  readonly config: EngineConfig;
  readonly #clock: Clock;
  readonly #hooks: EngineHooks;
  readonly #pool: BlockPool;
  readonly #kv: KvCacheManager;
  readonly #scheduler: Scheduler;
  // idle: no timer held; starting: a zero-delay timer will run the next step; stepping: a step is in flight.
  #phase: 'idle' | 'starting' | 'stepping' = 'idle';

  constructor(config: EngineConfig, clock: Clock, options: EngineOptions) {
    validateConfig(config);
    this.config = config;
    this.#clock = clock;
    this.#hooks = options.hooks ?? {};
    this.#pool = new BlockPool({
      numBlocks: config.numGpuBlocks,
      blockSize: config.blockSize,
      recordEvents: this.#hooks.onKvEvents !== undefined,
    });
    this.#kv = new KvCacheManager(this.#pool, {
      enableCaching: config.enablePrefixCaching,
      hashBlock: options.hashBlock,
    });
    this.#scheduler = new Scheduler(config, this.#kv, {
      setTimer: (delay, fn) => void clock.setTimer(delay, fn),
      wake: () => this.#wake(),
    });
  }

  submit(request: EngineRequest, observer: RequestObserver): SubmitOutcome {
    validateRequest(request);
    if (this.#scheduler.has(request.id)) throw new Error(`request id ${request.id} is already in the engine`);
    const outputTokens = request.remoteDecode ? 1 : request.maxTokens;
    const total = request.promptTokenIds.length + outputTokens;
    if (total > this.config.maxModelLen) {
      return {
        ok: false,
        reason: 'too_long',
        message:
          `This model's maximum context length is ${this.config.maxModelLen} tokens. However, you requested ` +
          `${total} tokens (${request.promptTokenIds.length} in the messages, ${outputTokens} in the completion).`,
      };
    }
    if (request.loraName !== null && this.config.maxLoras < 1) {
      return {
        ok: false,
        reason: 'lora_unknown',
        message: `LoRA is not enabled (adapter ${request.loraName})`,
      };
    }
    if (this.#scheduler.numWaiting >= this.config.maxWaitingRequests) {
      return {
        ok: false,
        reason: 'queue_full',
        message: `waiting queue is full (${this.config.maxWaitingRequests} requests)`,
      };
    }
    this.#scheduler.add(request, observer, this.#clock.now());
    this.#wake();
    return { ok: true };
  }

  abort(id: string): boolean {
    const found = this.#scheduler.abort(id, this.#clock.now());
    if (found) this.#wake();
    return found;
  }

  abortAll(): number {
    return this.#scheduler.abortAll(this.#clock.now());
  }

  stats(): EngineStats {
    return this.#scheduler.stats();
  }

  resetPrefixCache(): boolean {
    const ok = this.#pool.resetPrefixCache();
    if (ok) this.#flushEvents(this.#clock.now());
    return ok;
  }

  internals(): EngineInternals {
    return {
      usedBlocks: this.#pool.numUsedBlocks,
      cachedBlocks: this.#pool.numCachedBlocks,
      freeBlocks: this.#pool.numFreeBlocks,
      hashCalls: this.#kv.hashCalls,
      pinnedRequests: this.#scheduler.numPinnedRequests,
    };
  }

  #wake(): void {
    if (this.#phase !== 'idle' || !this.#scheduler.hasWork) return;
    this.#phase = 'starting';
    this.#clock.setTimer(0, this.#startStep);
  }

  readonly #startStep = (): void => {
    const now = this.#clock.now();
    const batch = this.#scheduler.schedule(now);
    if (batch.size === 0) {
      // Nothing runnable (KV still arriving, or blocks pinned): a timer will wake us.
      this.#phase = 'idle';
      this.#flushEvents(now);
      return;
    }
    this.#phase = 'stepping';
    this.#clock.setTimer(stepSeconds(this.config.timing, batch), this.#endStep);
  };

  readonly #endStep = (): void => {
    const now = this.#clock.now();
    // Events first: vLLM publishes the step's KV events from the engine core before the
    // frontend process streams the step's tokens.
    this.#flushEvents(now);
    this.#scheduler.finishStep(now);
    if (this.#scheduler.hasWork) {
      this.#startStep();
    } else {
      this.#phase = 'idle';
      this.#flushEvents(now);
    }
  };

  #flushEvents(now: number): void {
    if (!this.#pool.hasEvents) return;
    const events = this.#pool.takeEvents();
    this.#hooks.onKvEvents?.(events, now);
  }
}

/** Build an engine; see `SimEngine`. */
export function createEngine(config: EngineConfig, clock: Clock, options: EngineOptions): SimEngine {
  return new SimEngine(config, clock, options);
}
