/**
 * The discrete-event benchmark driver: N simulated vLLM engines on one virtual clock, fed a
 * workload and routed by the real scheduler, with the router's view of the fleet built the way
 * the live router builds it:
 *
 * - engine metrics come from a scrape every `scrapeIntervalMs` (default 50 ms, llm-d's refresh
 *   interval), so queue and KV-usage signals lag as they do live;
 * - in-flight counters (requests, prompt + max output tokens) are exact: updated at dispatch and
 *   at completion, like the router's own accounting;
 * - the precise block index is fed by each engine's KV events through the real
 *   `KvEventIngestor`, delivered after `kvEventDelayMs` (default 5 ms), plus whatever speculative
 *   inserts the policy's producer makes at dispatch;
 * - health follows scrapes: 3 failed scrapes mark a dead pod unhealthy, and the router then drops
 *   it from the index and tells the scheduler (`retainEndpoints`).
 *
 * Per request it records the router decision time (wall-clock µs of `schedule()`), the pod, and
 * the engine's TTFT, inter-token gaps, E2E, cached and prompt tokens. Everything but the decision
 * time is a pure function of the seed: arrivals, prompts, scheduler randomness and the clock's
 * tie-breaks are all seeded or ordered.
 */
import { performance } from 'node:perf_hooks';
import type { FleetView } from '../../src/fleet/types.ts';
import { blockKeyRoot, computeBlockKeys } from '../../src/index-store/block-keys.ts';
import { KvEventIngestor } from '../../src/index-store/kv-event-ingestor.ts';
import { MemoryBlockIndex } from '../../src/index-store/memory-index.ts';
import type { LoadedSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { createRandom, type Random } from '../../src/scheduler/prng.ts';
import { createInMemoryState, type SchedulerStateFactory } from '../../src/scheduler/state.ts';
import type { SchedulingRequest } from '../../src/scheduler/types.ts';
import { createEngine, type SimEngine } from '../../src/sim/engine/engine.ts';
import type { EngineConfig, RequestResult } from '../../src/sim/engine/types.ts';
import { VirtualClock } from '../../src/sim/engine/virtual-clock.ts';
import type { Policy } from '../policies/policy.ts';
import { GrowableSamples } from '../stats/growable-samples.ts';
import { slowedEngineConfig } from '../workloads/fleet-shape.ts';
import type { Workload, WorkloadRequest } from '../workloads/types.ts';
import { xxh3ChainedBlockHash } from './chained-block-hash.ts';
import { DesPod } from './des-pod.ts';
import { KvEventFeed } from './kv-event-feed.ts';
import type { RequestRecord, RunResult } from './run-result.ts';
import { SchedulerBlockIndex } from './scheduler-block-index.ts';

export interface DesProgress {
  readonly settled: number;
  readonly total: number;
  readonly stage: number;
  readonly simTimeS: number;
}

export interface DesRunOptions {
  readonly workload: Workload;
  readonly engine: EngineConfig;
  readonly policy: Policy;
  readonly seed: number;
  /** Metrics scrape period (ms). Default 50. */
  readonly scrapeIntervalMs?: number;
  /** KV-event delivery delay (ms). Default 5. */
  readonly kvEventDelayMs?: number;
  /**
   * Routing threads (default 1): each runs its own copy of the policy, as the router's acceptor
   * threads do, and requests go to them in turn. They share the block index, the prefix and session
   * stores and the pods' in-flight counts; per-plugin state (a picker's ledger) stays per thread.
   */
  readonly routerThreads?: number;
  /** Called now and then with how far the run got (throttled by the driver). */
  readonly onProgress?: (progress: DesProgress) => void;
  /**
   * Called every `intervalS` of simulated time while requests are outstanding, with the first
   * routing thread's plugin states (`Plugin.debugState` over the fleet's pods): what a policy has
   * learned as the run goes (bench/micro/learned-rates.ts).
   */
  readonly inspect?: {
    readonly intervalS: number;
    readonly callback: (simS: number, plugins: Readonly<Record<string, unknown>>) => void;
  };
}

/** How often (virtual ms) the index sweeps expired speculative entries, as its owner timer would. */
const INDEX_SWEEP_MS = 500;

export function runDes(options: DesRunOptions): RunResult {
  return new DesRun(options).run();
}

class DesRun {
  private readonly clock = new VirtualClock();
  private readonly pods: DesPod[];
  private readonly byId = new Map<string, DesPod>();
  private readonly index: MemoryBlockIndex;
  private readonly ingestor: KvEventIngestor;
  private readonly feed: KvEventFeed;
  private readonly threads: LoadedSchedulerConfig[];
  private issued = 0;
  private readonly random: Random;
  private readonly keyRoot: bigint;
  private readonly records: RequestRecord[] = [];
  private readonly itlGaps = new GrowableSamples();
  private readonly tokensPerSecond: number[] = [];
  private readonly followers = new Map<string, WorkloadRequest[]>();
  private readonly total: number;
  private settled = 0;
  private currentStage = 0;
  private lastProgressMs = 0;

  constructor(private readonly options: DesRunOptions) {
    const { workload, engine } = options;
    const msNow = (): number => this.clock.now() * 1000;
    this.index = MemoryBlockIndex.create({
      blockSize: engine.blockSize,
      capacityKeys: Math.max(1 << 16, 4 * workload.fleet.pods * engine.numGpuBlocks),
      maxPods: Math.max(16, workload.fleet.pods),
      now: msNow,
      sweepIntervalMs: 0,
    });
    this.ingestor = new KvEventIngestor(this.index);
    this.feed = new KvEventFeed(
      this.clock,
      this.ingestor,
      engine.model,
      (options.kvEventDelayMs ?? 5) / 1000,
    );
    this.pods = Array.from({ length: workload.fleet.pods }, (_, i) => {
      const pod: DesPod = new DesPod(i, engine.model, undefined as unknown as SimEngine);
      pod.engine = this.createPodEngine(pod);
      this.byId.set(pod.id, pod);
      return pod;
    });
    const blockIndex = new SchedulerBlockIndex(this.index);
    const state = sharedByName(createInMemoryState({ blockIndex, speculativeBlockIndex: blockIndex }));
    const threadCount = Math.max(1, Math.floor(options.routerThreads ?? 1));
    this.threads = Array.from({ length: threadCount }, () =>
      options.policy.build({
        state,
        blockSize: engine.blockSize,
        cachedBlocks: (id) => this.feed.cachedBlocks(id),
      }),
    );
    this.random = createRandom(options.seed);
    this.keyRoot = blockKeyRoot(engine.model, null, null);
    this.total = workload.requests.length;
    for (const request of workload.requests) {
      if (request.after === undefined) continue;
      const list = this.followers.get(request.after) ?? [];
      list.push(request);
      this.followers.set(request.after, list);
    }
  }

  run(): RunResult {
    const started = performance.now();
    this.startScrapes();
    this.startInspection();
    this.scheduleArrivals();
    for (const event of this.options.workload.fleetEvents) {
      this.clock.setTimer(event.atS, () => {
        const pod = this.pods[event.pod];
        if (!pod) return;
        if (event.action === 'kill') pod.kill();
        else pod.restore(this.createPodEngine(pod));
      });
    }
    this.clock.runUntilIdle();
    this.index.close();
    if (this.feed.failure) throw this.feed.failure;
    if (this.settled !== this.total) {
      throw new Error(`run ended with ${this.total - this.settled} of ${this.total} requests unsettled`);
    }
    const dispatchedPerPod: Record<string, number> = {};
    for (const pod of this.pods) dispatchedPerPod[pod.id] = pod.dispatched;
    return {
      policy: this.options.policy.name,
      records: this.records,
      itlGapsS: this.itlGaps.view().slice(),
      tokensPerSecond: this.tokensPerSecond.map((n) => n ?? 0),
      dispatchedPerPod,
      simEndS: this.clock.now(),
      wallS: (performance.now() - started) / 1000,
      kvEventBatches: this.feed.delivered,
    };
  }

  private createPodEngine(pod: DesPod): SimEngine {
    const generation = pod.generation;
    const slowdown = this.options.workload.fleet.slowdown?.[pod.index] ?? 1;
    return createEngine(slowedEngineConfig(this.options.engine, slowdown), this.clock, {
      hashBlock: xxh3ChainedBlockHash,
      hooks: {
        onKvEvents: (events) =>
          this.feed.publish(pod.id, events, () => pod.up && pod.generation === generation),
      },
    });
  }

  private startInspection(): void {
    const inspect = this.options.inspect;
    if (!inspect) return;
    const tick = (): void => {
      const nowMs = this.clock.now() * 1000;
      const ids = this.pods.map((p) => p.id);
      const states: Record<string, unknown> = {};
      for (const plugin of (this.threads[0] as LoadedSchedulerConfig).scheduler.plugins) {
        if (plugin.debugState) states[plugin.name] = plugin.debugState(nowMs, ids);
      }
      inspect.callback(this.clock.now(), states);
      if (this.settled < this.total) this.clock.setTimer(inspect.intervalS, tick);
    };
    this.clock.setTimer(inspect.intervalS, tick);
  }

  /** Scrapes (and index sweeps) tick until every request settled, then stop so the clock drains. */
  private startScrapes(): void {
    const intervalS = (this.options.scrapeIntervalMs ?? 50) / 1000;
    let sinceSweepMs = 0;
    const tick = (): void => {
      const nowMs = this.clock.now() * 1000;
      const gone: string[] = [];
      for (const pod of this.pods) if (pod.scrape(nowMs)) gone.push(pod.id);
      if (gone.length > 0) this.dropEndpoints(gone);
      sinceSweepMs += intervalS * 1000;
      if (sinceSweepMs >= INDEX_SWEEP_MS) {
        sinceSweepMs = 0;
        this.index.sweep();
      }
      if (this.settled < this.total) this.clock.setTimer(intervalS, tick);
    };
    tick();
  }

  /** Discovery noticed dead pods: the router forgets their index entries and plugin state. */
  private dropEndpoints(ids: readonly string[]): void {
    for (const id of ids) {
      this.index.removePod(id);
      this.ingestor.forgetPod(id);
      this.feed.forget(id);
    }
    const live = new Set(this.pods.filter((p) => p.healthy).map((p) => p.id));
    for (const thread of this.threads) thread.scheduler.retainEndpoints(live);
  }

  private scheduleArrivals(): void {
    const open = this.options.workload.requests
      .filter((r) => r.after === undefined)
      .sort((a, b) => a.arrivalS - b.arrivalS);
    let next = 0;
    const fire = (): void => {
      const now = this.clock.now();
      while (next < open.length && (open[next] as WorkloadRequest).arrivalS <= now) {
        this.issue(open[next] as WorkloadRequest);
        next++;
      }
      if (next < open.length) this.clock.setTimer((open[next] as WorkloadRequest).arrivalS - now, fire);
    };
    if (open.length > 0) this.clock.setTimer((open[0] as WorkloadRequest).arrivalS, fire);
  }

  private issue(request: WorkloadRequest): void {
    const arrivalS = this.clock.now();
    const nowMs = arrivalS * 1000;
    this.currentStage = request.stage;
    const tokens = request.prompt();
    const maxTokens = request.outputTokenIds.length;
    const schedReq: SchedulingRequest = {
      requestId: request.id,
      targetModel: this.options.engine.model,
      promptText: '',
      promptTokenEstimate: tokens.length,
      tokenIds: tokens,
      blockKeys: Array.from(computeBlockKeys(tokens, this.options.engine.blockSize, this.keyRoot)),
      headers: {},
    };
    const view: FleetView = { nowMs, endpoints: this.pods.map((p) => p.snapshot()) };
    const scheduler = (this.threads[this.issued++ % this.threads.length] as LoadedSchedulerConfig).scheduler;
    const t0 = performance.now();
    const decision = scheduler.schedule(schedReq, view, { random: this.random });
    const decisionUs = (performance.now() - t0) * 1000;

    const base = {
      id: request.id,
      ...(request.group !== undefined ? { group: request.group } : {}),
      stage: request.stage,
      arrivalS,
      promptTokens: tokens.length,
      decisionUs,
    };
    const pod = decision.endpointId === null ? undefined : this.byId.get(decision.endpointId);
    if (!pod) {
      this.settle(request, {
        ...base,
        pod: null,
        firstTokenS: Number.NaN,
        finishS: Number.NaN,
        cachedTokens: 0,
        completionTokens: 0,
        error: decision.failure?.reason ?? 'no-endpoint',
      });
      return;
    }
    scheduler.recordDispatch(schedReq, decision, nowMs);
    const inflightTokens = tokens.length + maxTokens;
    pod.inflightRequests++;
    pod.inflightTokens += inflightTokens;
    pod.dispatched++;
    const finish = (record: RequestRecord, outcome: 'success' | 'error'): void => {
      pod.inflightRequests--;
      pod.inflightTokens -= inflightTokens;
      scheduler.recordResponseComplete({
        request: schedReq,
        decision,
        endpointId: pod.id,
        nowMs: this.clock.now() * 1000,
        outcome,
        // The usage a vLLM response reports (`prompt_tokens_details.cached_tokens`), as the live
        // router passes it on.
        ...(outcome === 'success'
          ? { promptTokens: record.promptTokens, cachedTokens: record.cachedTokens }
          : {}),
      });
      this.settle(request, record);
    };
    const failed = (error: string): RequestRecord => ({
      ...base,
      pod: pod.id,
      firstTokenS: Number.NaN,
      finishS: Number.NaN,
      cachedTokens: 0,
      completionTokens: 0,
      error,
    });
    if (!pod.up) {
      finish(failed('connection-refused'), 'error');
      return;
    }
    this.submit(pod, request, tokens, schedReq, base, finish, failed, scheduler);
  }

  private submit(
    pod: DesPod,
    request: WorkloadRequest,
    tokens: readonly number[],
    schedReq: SchedulingRequest,
    base: Pick<RequestRecord, 'id' | 'group' | 'stage' | 'arrivalS' | 'promptTokens' | 'decisionUs'>,
    finish: (record: RequestRecord, outcome: 'success' | 'error') => void,
    failed: (error: string) => RequestRecord,
    scheduler: LoadedSchedulerConfig['scheduler'],
  ): void {
    let firstTokenS = Number.NaN;
    let lastTokenS = Number.NaN;
    // Warm-up requests stay out of the ITL sample, as they stay out of every other summary figure.
    const sampleGaps = !this.options.workload.stages[request.stage]?.warmup;
    const outcome = pod.engine.submit(
      {
        id: request.id,
        promptTokenIds: tokens,
        maxTokens: request.outputTokenIds.length,
        loraName: null,
        cacheSalt: null,
        outputTokenIds: request.outputTokenIds,
      },
      {
        onToken: (_token, index, time) => {
          if (index === 0) {
            firstTokenS = time;
            scheduler.recordFirstToken({
              requestId: schedReq.requestId,
              endpointId: pod.id,
              nowMs: time * 1000,
            });
          } else if (sampleGaps) {
            this.itlGaps.push(time - lastTokenS);
          }
          lastTokenS = time;
          const second = Math.floor(time);
          this.tokensPerSecond[second] = (this.tokensPerSecond[second] ?? 0) + 1;
        },
        onFinish: (result: RequestResult) => {
          const ok = result.finishReason === 'length' || result.finishReason === 'stop';
          finish(
            ok
              ? {
                  ...base,
                  pod: pod.id,
                  firstTokenS,
                  finishS: result.finishTime,
                  cachedTokens: result.cachedTokens,
                  completionTokens: result.completionTokens,
                  error: null,
                }
              : { ...failed(result.finishReason === 'abort' ? 'aborted' : 'engine-error'), firstTokenS },
            ok ? 'success' : 'error',
          );
        },
      },
    );
    if (!outcome.ok) finish(failed(outcome.reason), 'error');
  }

  private settle(request: WorkloadRequest, record: RequestRecord): void {
    this.records.push(record);
    this.settled++;
    for (const follower of this.followers.get(request.id) ?? []) {
      this.clock.setTimer(follower.arrivalS, () => this.issue(follower));
    }
    this.reportProgress();
  }

  private reportProgress(): void {
    const onProgress = this.options.onProgress;
    if (!onProgress) return;
    const now = performance.now();
    if (now - this.lastProgressMs < 200 && this.settled < this.total) return;
    this.lastProgressMs = now;
    onProgress({
      settled: this.settled,
      total: this.total,
      stage: this.currentStage,
      simTimeS: this.clock.now(),
    });
  }
}

/**
 * One store per plugin name however many policy copies ask, as the router's threads share prefix
 * history, session pins and kvedge-picker's ledger, learned rates and turnover sums (ThreadSharedState; it keeps cursors per thread, which
 * interleave to the same spread).
 */
function sharedByName(base: SchedulerStateFactory): SchedulerStateFactory {
  const stores = new Map<string, unknown>();
  // Cursors stay per copy (base.roundRobinCursor), as in the router.
  const once = <T>(key: string, make: () => T): T => {
    if (!stores.has(key)) stores.set(key, make());
    return stores.get(key) as T;
  };
  return {
    ...base,
    prefixIndex: (name) => once(`prefix:${name}`, () => base.prefixIndex(name)),
    noHitLru: (name, capacity) => once(`lru:${name}`, () => base.noHitLru(name, capacity)),
    sessionAffinity: (name, options) => once(`session:${name}`, () => base.sessionAffinity(name, options)),
    prefillRates: (name, options) => once(`rates:${name}`, () => base.prefillRates(name, options)),
    cacheTurnover: (name, windowMs) => once(`turnover:${name}`, () => base.cacheTurnover(name, windowMs)),
    podLedger: (name, options) => once(`ledger:${name}`, () => base.podLedger(name, options)),
  };
}
