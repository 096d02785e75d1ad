/**
 * Sends a workload over HTTP in real time and measures what a client sees: TTFT and inter-token
 * gaps from SSE chunk arrival, E2E, and the server's usage (cached tokens). Open-loop requests go
 * out at their arrival times; closed-loop ones after their predecessor ends plus the think time.
 * Several target URLs (pods, or router replicas) are used in turn, per request or per conversation
 * (`replica-spread.ts`); one URL is the router's (or one pod's).
 *
 * The result has the same shape as a DES run, so the same report code reads both. Times are
 * seconds since the run started; decision time is unknown on the client (NaN).
 */
import { performance } from 'node:perf_hooks';
import { Agent } from 'undici';
import type { RequestRecord, RunResult } from '../des/run-result.ts';
import { GrowableSamples } from '../stats/growable-samples.ts';
import type { Workload, WorkloadRequest } from '../workloads/types.ts';
import { createTargetPicker, type ReplicaSpread } from './replica-spread.ts';
import { streamCompletion } from './streamed-completion.ts';

export interface LiveRunOptions {
  readonly workload: Workload;
  readonly targets: readonly string[];
  readonly model: string;
  /** Name of the measured setup (the report's "policy" column). */
  readonly label: string;
  /** How requests are spread over several targets; default `request` (round robin per request). */
  readonly spread?: ReplicaSpread;
  /**
   * Every pod the router may pick, by the name each response carries (`x-kvedge-sim-pod`): listed with 0 requests when
   * none reached them, so the spread figures (CV, max/min) see idle pods.
   */
  readonly podIds?: readonly string[];
  readonly onProgress?: (settled: number, total: number, stage: number) => void;
}

export interface LiveRunResult extends RunResult {
  /** Requests sent to each target URL (the load balancer's view, errors included). */
  readonly requestsPerTarget: Readonly<Record<string, number>>;
}

export async function runLive(options: LiveRunOptions): Promise<LiveRunResult> {
  const { workload, targets } = options;
  if (targets.length === 0) throw new Error('live mode needs at least one target URL');
  const dispatcher = new Agent({ connections: 4096, pipelining: 0, bodyTimeout: 0, headersTimeout: 0 });
  const started = performance.now();
  const sinceStartS = (ms: number): number => (ms - started) / 1000;
  const records: RequestRecord[] = [];
  const gaps = new GrowableSamples();
  const tokensPerSecond: number[] = [];
  const perPod: Record<string, number> = Object.fromEntries((options.podIds ?? []).map((id) => [id, 0]));
  const perTarget: Record<string, number> = Object.fromEntries(targets.map((t) => [t, 0]));
  const pickTarget = createTargetPicker(targets, options.spread ?? 'request', workload.requests);
  const followers = new Map<string, WorkloadRequest[]>();
  for (const r of workload.requests) {
    if (r.after === undefined) continue;
    followers.set(r.after, [...(followers.get(r.after) ?? []), r]);
  }
  const total = workload.requests.length;
  let settled = 0;
  let resolveAll!: () => void;
  const allDone = new Promise<void>((resolve) => (resolveAll = resolve));
  const timers = new Set<NodeJS.Timeout>();
  const later = (delayMs: number, fn: () => void): void => {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        fn();
      },
      Math.max(0, delayMs),
    );
    timers.add(timer);
  };

  const issue = (request: WorkloadRequest): void => {
    const target = pickTarget(request);
    perTarget[target] = (perTarget[target] ?? 0) + 1;
    void streamCompletion({
      baseUrl: target,
      model: options.model,
      promptTokenIds: request.prompt(),
      maxTokens: request.outputTokenIds.length,
      dispatcher,
      requestId: request.id,
    }).then((outcome) => {
      const pod = outcome.servedBy ?? target;
      perPod[pod] = (perPod[pod] ?? 0) + 1;
      const warmup = workload.stages[request.stage]?.warmup ?? false;
      outcome.chunkMs.forEach((t, i) => {
        if (i > 0 && !warmup) gaps.push((t - (outcome.chunkMs[i - 1] as number)) / 1000);
        const second = Math.floor(sinceStartS(t));
        tokensPerSecond[second] = (tokensPerSecond[second] ?? 0) + 1;
      });
      const first = outcome.chunkMs[0];
      const ok = outcome.error === null && first !== undefined;
      records.push({
        id: request.id,
        ...(request.group !== undefined ? { group: request.group } : {}),
        stage: request.stage,
        pod,
        arrivalS: sinceStartS(outcome.sentMs),
        firstTokenS: first === undefined ? Number.NaN : sinceStartS(first),
        finishS: ok ? sinceStartS(outcome.endMs) : Number.NaN,
        promptTokens: outcome.promptTokens ?? request.promptLength,
        cachedTokens: outcome.cachedTokens ?? 0,
        completionTokens: outcome.completionTokens ?? outcome.chunkMs.length,
        decisionUs: Number.NaN,
        error: ok ? null : (outcome.error ?? 'no-tokens'),
      });
      settled++;
      options.onProgress?.(settled, total, request.stage);
      for (const follower of followers.get(request.id) ?? [])
        later(follower.arrivalS * 1000, () => issue(follower));
      if (settled === total) resolveAll();
    });
  };

  for (const request of workload.requests) {
    if (request.after === undefined) later(request.arrivalS * 1000, () => issue(request));
  }
  if (total === 0) resolveAll();
  await allDone;
  for (const timer of timers) clearTimeout(timer);
  await dispatcher.close();
  return {
    policy: options.label,
    records,
    itlGapsS: gaps.view().slice(),
    tokensPerSecond: Array.from(tokensPerSecond, (n) => n ?? 0),
    dispatchedPerPod: perPod,
    simEndS: sinceStartS(performance.now()),
    wallS: sinceStartS(performance.now()),
    kvEventBatches: 0,
    requestsPerTarget: perTarget,
  };
}
