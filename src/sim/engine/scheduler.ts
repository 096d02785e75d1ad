/**
 * A vLLM v1-style step scheduler (`vllm/v1/core/sched/scheduler.py`), chunked prefill on:
 *
 * 1. Running requests first, in admission order: each takes what it has left to compute
 *    (1 token when decoding, the rest of its prompt when still prefilling), capped by the step's
 *    remaining token budget. A request that cannot get the blocks it needs preempts the
 *    lowest-priority, most recently admitted running request (recompute preemption: its blocks are
 *    freed and it goes back to the front of the waiting queue) until it fits or is itself the
 *    victim, which ends the running pass.
 * 2. Only if nothing was preempted: waiting requests, highest priority then FCFS, while budget and
 *    `maxNumSeqs` allow. A request whose LoRA would exceed `maxLoras` distinct adapters among the
 *    step's requests is skipped (it keeps its place); a request that cannot get KV blocks stops
 *    admission (head-of-line blocking, as vLLM).
 *
 * At the end of a step every request whose KV has caught up with its tokens samples its next
 * token; requests reaching their output limit finish and free their blocks.
 *
 * P/D: a `remotePrefill` request is admitted with blocks for its whole prompt and waits outside
 * the batch while the missing KV is "pulled" (kvTransferPerToken per token not cached locally,
 * as NIXL only reads those); then it computes its last prompt token and decodes. A `remoteDecode`
 * request stops after one token and keeps its blocks referenced for as long as the decode side
 * needs to pull them (vLLM delays freeing them for the connector).
 */
import type { KvCacheManager } from './kv-cache-manager.ts';
import { SimRequest } from './sim-request.ts';
import { StepBatch } from './step-batch.ts';
import type { EngineConfig, EngineRequest, EngineStats, RequestObserver, RequestResult } from './types.ts';
import { WaitingQueue } from './waiting-queue.ts';

/** What the scheduler needs from the engine that drives it. */
export interface SchedulerEnv {
  /** Run `fn` after `delaySeconds` of engine time (KV transfers, delayed frees). */
  setTimer(delaySeconds: number, fn: () => void): void;
  /** Work may have become schedulable outside a step (the engine starts one if idle). */
  wake(): void;
}

const NO_BLOCKS: readonly number[] = [];

export class Scheduler {
  readonly #config: EngineConfig;
  readonly #kv: KvCacheManager;
  readonly #env: SchedulerEnv;
  readonly #requests = new Map<string, SimRequest>();
  readonly #waiting = new WaitingQueue();
  readonly #transferring = new Set<SimRequest>();
  #running: SimRequest[] = [];
  readonly #batch = new StepBatch();
  // Scratch arrays reused by every step.
  readonly #hits: number[] = [];
  readonly #skipped: SimRequest[] = [];
  readonly #stepLoras = new Set<string>();
  readonly #loraIds = new Map<string, number>();
  #arrivalKey = 0;
  #frontKey = 0;
  #pinnedRequests = 0;
  #prefixCacheQueries = 0;
  #prefixCacheHits = 0;
  #promptTokensTotal = 0;
  #generationTokensTotal = 0;
  #preemptionsTotal = 0;
  #stepsTotal = 0;

  constructor(config: EngineConfig, kv: KvCacheManager, env: SchedulerEnv) {
    this.#config = config;
    this.#kv = kv;
    this.#env = env;
  }

  /** Requests queued, including P/D decode legs whose KV is still arriving (as vLLM counts them). */
  get numWaiting(): number {
    return this.#waiting.size + this.#transferring.size;
  }

  get numRunning(): number {
    return this.#running.length;
  }

  /** Whether a step would have something to do. */
  get hasWork(): boolean {
    return this.#running.length > 0 || this.#waiting.size > 0;
  }

  /** Finished `remoteDecode` requests whose blocks are still pinned for the decode side. */
  get numPinnedRequests(): number {
    return this.#pinnedRequests;
  }

  has(id: string): boolean {
    return this.#requests.has(id);
  }

  add(spec: EngineRequest, observer: RequestObserver, now: number): void {
    let loraId: number | null = null;
    if (spec.loraName !== null) {
      loraId = this.#loraIds.get(spec.loraName) ?? this.#loraIds.size + 1;
      this.#loraIds.set(spec.loraName, loraId);
    }
    const request = new SimRequest(spec, observer, now, ++this.#arrivalKey, loraId);
    this.#requests.set(request.id, request);
    this.#waiting.push(request);
  }

  /** Choose the work of the next step; the returned batch is reused by the next call. */
  schedule(now: number): StepBatch {
    // A pass that only preempted (the request short of blocks was its own victim) schedules
    // nothing; vLLM's busy loop would simply schedule again, so do that here. Each such pass
    // removes a running request, so this ends.
    while (this.#schedulePass(now) && this.#batch.size === 0);
    if (this.#batch.size > 0) this.#stepsTotal++;
    return this.#batch;
  }

  /** One vLLM `schedule()` call into `#batch`; returns whether it preempted. */
  #schedulePass(now: number): boolean {
    const batch = this.#batch;
    batch.clear();
    const running = this.#running;
    let budget = this.#config.maxNumBatchedTokens;
    let preempted = false;

    let i = 0;
    while (i < running.length && budget > 0) {
      const request = running[i]!;
      const remaining = request.numTokens - request.numComputedTokens;
      const n = Math.min(remaining, budget);
      let allocated = this.#kv.allocateSlots(request, n, NO_BLOCKS);
      while (!allocated) {
        const v = this.#victimIndex();
        const victim = running[v]!;
        running.splice(v, 1);
        if (v < i) {
          i--;
          budget += batch.remove(victim);
        }
        this.#preempt(victim);
        preempted = true;
        if (victim === request) break;
        allocated = this.#kv.allocateSlots(request, n, NO_BLOCKS);
      }
      if (!allocated) break;
      batch.add(request, n, remaining === 1 && request.numOutputTokens > 0);
      budget -= n;
      i++;
    }

    // vLLM counts the adapters of the running requests scheduled in this step, not all running.
    const loras = this.#stepLoras;
    loras.clear();
    for (const request of batch.requests) if (request.loraName !== null) loras.add(request.loraName);

    // As vLLM: no admissions in a step that had to preempt.
    if (!preempted) budget = this.#admitWaiting(now, budget, loras);

    for (let k = 0; k < batch.size; k++) {
      const request = batch.requests[k]!;
      const n = batch.numTokens[k]!;
      batch.contextTokens += request.numComputedTokens + n;
      if (batch.isDecode[k]) batch.decodeSeqs++;
      else batch.prefillTokens += n;
      request.numComputedTokens += n;
    }
    return preempted;
  }

  /** Apply the step's results at its end time: sample tokens, finish requests. */
  finishStep(now: number): void {
    const batch = this.#batch;
    for (let k = 0; k < batch.size; k++) {
      const request = batch.requests[k]!;
      // Aborted during the step, or a chunk of a prefill that is not done yet.
      if (request.status !== 'running' || request.numComputedTokens < request.numTokens) continue;
      const index = request.numOutputTokens++;
      if (index === 0) {
        request.firstTokenTime = now;
        this.#promptTokensTotal += request.promptLength;
      }
      this.#generationTokensTotal++;
      request.observer.onToken(request.spec.outputTokenIds[index]!, index, now);
      if (request.status === 'running' && request.numOutputTokens >= request.outputLimit) {
        this.#finish(request, 'length', now);
      }
    }
    batch.clear();
    const running = this.#running;
    let kept = 0;
    for (const request of running) if (request.status === 'running') running[kept++] = request;
    running.length = kept;
  }

  /** Abort a request wherever it is; false if unknown or already finished. */
  abort(id: string, now: number): boolean {
    const request = this.#requests.get(id);
    if (request === undefined) return false;
    if (request.status === 'waiting') this.#waiting.remove(request);
    else if (request.status === 'transferring') this.#transferring.delete(request);
    else if (request.status === 'running') this.#running.splice(this.#running.indexOf(request), 1);
    this.#finish(request, 'abort', now);
    return true;
  }

  /** Abort every request the engine still tracks; returns how many. */
  abortAll(now: number): number {
    const ids = [...this.#requests.keys()];
    for (const id of ids) this.abort(id, now);
    return ids.length;
  }

  stats(): EngineStats {
    const pool = this.#kv.pool;
    const runningLoras = new Set<string>();
    for (const r of this.#running) if (r.loraName !== null) runningLoras.add(r.loraName);
    const waitingLoras = new Set<string>();
    for (const r of this.#waiting.values()) if (r.loraName !== null) waitingLoras.add(r.loraName);
    for (const r of this.#transferring) if (r.loraName !== null) waitingLoras.add(r.loraName);
    return {
      running: this.#running.length,
      waiting: this.numWaiting,
      kvCacheUsage: pool.usage(),
      numGpuBlocks: pool.numBlocks,
      blockSize: pool.blockSize,
      prefixCacheQueries: this.#prefixCacheQueries,
      prefixCacheHits: this.#prefixCacheHits,
      promptTokensTotal: this.#promptTokensTotal,
      generationTokensTotal: this.#generationTokensTotal,
      preemptionsTotal: this.#preemptionsTotal,
      runningLoras: [...runningLoras].sort(),
      waitingLoras: [...waitingLoras].sort(),
      stepsTotal: this.#stepsTotal,
    };
  }

  #admitWaiting(now: number, budget: number, loras: Set<string>): number {
    const config = this.#config;
    const waiting = this.#waiting;
    const running = this.#running;
    const skipped = this.#skipped;
    const hits = this.#hits;
    skipped.length = 0;
    while (waiting.size > 0 && budget > 0 && running.length < config.maxNumSeqs) {
      const request = waiting.peek()!;
      if (request.loraName !== null && loras.size >= config.maxLoras && !loras.has(request.loraName)) {
        skipped.push(waiting.pop()!);
        continue;
      }
      let hitTokens = 0;
      if (request.numComputedTokens === 0) {
        hitTokens = this.#kv.findCachedPrefix(request, hits);
        // vLLM records a lookup every time it is made (again on each step a request stays blocked),
        // and keeps preempted requests out of these counters.
        if (this.#kv.enableCaching && request.numPreemptions === 0) {
          this.#prefixCacheQueries += request.numTokens;
          this.#prefixCacheHits += hitTokens;
        }
      } else {
        hits.length = 0;
      }
      if (request.spec.remotePrefill && !request.remoteKvLoaded && request.numComputedTokens === 0) {
        const external = request.numTokens - hitTokens;
        if (!this.#kv.allocateSlots(request, external, hits, true)) break;
        waiting.pop();
        this.#startTransfer(request, hitTokens, external, now);
        continue;
      }
      const n = Math.min(request.numTokens - request.numComputedTokens - hitTokens, budget);
      if (!this.#kv.allocateSlots(request, n, hits)) break;
      waiting.pop();
      request.numComputedTokens += hitTokens;
      request.holdsBlocksWhileWaiting = false;
      request.status = 'running';
      running.push(request);
      if (Number.isNaN(request.firstScheduledTime)) request.firstScheduledTime = now;
      if (request.cachedTokens < 0) request.cachedTokens = hitTokens;
      if (request.loraName !== null) loras.add(request.loraName);
      this.#batch.add(request, n, false);
      budget -= n;
    }
    for (const request of skipped) waiting.push(request);
    return budget;
  }

  #startTransfer(request: SimRequest, hitTokens: number, external: number, now: number): void {
    request.status = 'transferring';
    request.remoteKvLoaded = true;
    request.firstScheduledTime = now;
    request.cachedTokens = hitTokens;
    this.#transferring.add(request);
    this.#env.setTimer(external * this.#config.timing.kvTransferPerToken, () => {
      if (request.status !== 'transferring') return;
      this.#transferring.delete(request);
      // As vLLM after a finished receive: the last prompt token is recomputed locally for its
      // logits; everything before it is KV that landed, cached now.
      request.numComputedTokens = request.numTokens - 1;
      this.#kv.cacheBlocks(request, request.numComputedTokens);
      request.status = 'waiting';
      request.holdsBlocksWhileWaiting = true;
      this.#waiting.push(request);
      this.#env.wake();
    });
  }

  /** Lowest priority, and among those the most recently admitted (vLLM FCFS pops the tail). */
  #victimIndex(): number {
    const running = this.#running;
    let v = running.length - 1;
    for (let k = v - 1; k >= 0; k--) if (running[k]!.priority < running[v]!.priority) v = k;
    return v;
  }

  #preempt(request: SimRequest): void {
    this.#kv.free(request);
    request.holdsBlocksWhileWaiting = false;
    request.numComputedTokens = 0;
    request.numPreemptions++;
    this.#preemptionsTotal++;
    request.status = 'waiting';
    request.queueKey = --this.#frontKey;
    this.#waiting.push(request);
  }

  #finish(request: SimRequest, reason: RequestResult['finishReason'], now: number): void {
    request.status = 'finished';
    this.#requests.delete(request.id);
    const pinSeconds = request.promptLength * this.#config.timing.kvTransferPerToken;
    if (request.spec.remoteDecode && reason === 'length' && pinSeconds > 0) {
      this.#pinnedRequests++;
      this.#env.setTimer(pinSeconds, () => {
        this.#pinnedRequests--;
        this.#kv.free(request);
        this.#env.wake();
      });
    } else {
      this.#kv.free(request);
    }
    request.observer.onFinish({
      promptTokens: request.promptLength,
      cachedTokens: Math.max(0, request.cachedTokens),
      completionTokens: request.numOutputTokens,
      finishReason: reason,
      arrivalTime: request.arrivalTime,
      firstScheduledTime: request.firstScheduledTime,
      firstTokenTime: request.firstTokenTime,
      finishTime: now,
      preemptions: request.numPreemptions,
    });
  }
}
