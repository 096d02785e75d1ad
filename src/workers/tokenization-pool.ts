/**
 * A pool of worker threads that render chat templates, tokenize prompts and compute block keys
 * off the main thread. Each worker loads a model's tokenizer on first use and keeps a segment
 * cache for it, so prompts sharing a prefix are mostly served from cache.
 *
 * Works from source (vitest / tsx: the worker is a .ts file, started with `--import tsx`) and from
 * the compiled dist/ (.js worker, plain node).
 */
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { ChatTemplateError, TokenizationInputError } from '../tokenization/errors.ts';
import type {
  TaskCacheActivity,
  TaskReply,
  TokenizeResult,
  TokenizeTask,
  TokenizeWorkerData,
} from './tokenize-task-protocol.ts';

export type {
  BlockKeyRequest,
  ChatTask,
  CompletionTask,
  TokenizeResult,
  TokenizeTask,
} from './tokenize-task-protocol.ts';

export interface TokenizationPoolOptions {
  /** Worker threads (default: available cores - 1, at least 1). */
  readonly threads?: number;
  /** Per-worker segment cache budget in tokens (default 2,000,000; 0 disables caching). */
  readonly cacheMaxTokens?: number;
  /** Tasks a worker runs at once; >1 overlaps rendering with native tokenization (default 1). */
  readonly concurrentTasksPerWorker?: number;
  /** Queued tasks beyond which `run` rejects (piscina `maxQueue`, default unbounded). */
  readonly maxQueue?: number | 'auto';
  /** Models every worker loads at start-up instead of on first use. */
  readonly preloadModels?: readonly string[];
}

export interface RunOptions {
  readonly signal?: AbortSignal;
}

/** Segment-cache activity summed over every task the pool completed. */
export interface PoolCacheStats extends TaskCacheActivity {
  readonly tasks: number;
}

/** Where the worker module is, and how to start it, for the way this module itself was loaded. */
function workerEntry(): { filename: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const filename = fileURLToPath(
    new URL(fromSource ? './tokenize-task.ts' : './tokenize-task.js', import.meta.url),
  );
  if (!fromSource) return { filename, execArgv: [] };
  // Resolved to an absolute URL so the worker does not depend on the current directory.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { filename, execArgv: ['--import', tsx] };
}

export class TokenizationPool {
  readonly #piscina: Piscina<TokenizeTask, TaskReply>;
  #tasks = 0;
  #hitTokens = 0;
  #missTokens = 0;

  constructor(options: TokenizationPoolOptions = {}) {
    const threads = options.threads ?? Math.max(1, availableParallelism() - 1);
    if (!Number.isInteger(threads) || threads < 1)
      throw new RangeError(`threads must be >= 1, got ${threads}`);
    const { filename, execArgv } = workerEntry();
    const workerData: TokenizeWorkerData = {
      cacheMaxTokens: options.cacheMaxTokens ?? 2_000_000,
      preloadModels: [...(options.preloadModels ?? [])],
    };
    this.#piscina = new Piscina({
      filename,
      execArgv,
      workerData,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: options.concurrentTasksPerWorker ?? 1,
      ...(options.maxQueue !== undefined ? { maxQueue: options.maxQueue } : {}),
    });
  }

  get threads(): number {
    return this.#piscina.maxThreads;
  }

  /** Tasks waiting for a worker. */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  /**
   * Tokenizes one request in a worker.
   *
   * @throws TokenizationInputError / ChatTemplateError for a bad request (the pool keeps working),
   * Error for an unknown model or an internal failure.
   */
  async run(task: TokenizeTask, options: RunOptions = {}): Promise<TokenizeResult> {
    const reply = await this.#piscina.run(task, options.signal ? { signal: options.signal } : {});
    if (!reply.ok) {
      const { kind, message } = reply.error;
      if (kind === 'TokenizationInputError') throw new TokenizationInputError(message);
      if (kind === 'ChatTemplateError') throw new ChatTemplateError(message);
      throw new Error(message);
    }
    this.#tasks++;
    this.#hitTokens += reply.result.cache.hitTokens;
    this.#missTokens += reply.result.cache.missTokens;
    return reply.result;
  }

  cacheStats(): PoolCacheStats {
    return { tasks: this.#tasks, hitTokens: this.#hitTokens, missTokens: this.#missTokens };
  }

  /** Waits for running tasks, then stops the workers. */
  async close(): Promise<void> {
    await this.#piscina.close();
  }
}
