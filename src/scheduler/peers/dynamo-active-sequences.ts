/**
 * Dynamo's active-sequence tracker ("slot manager", peer-routers.md §2.3): per worker, the prefill
 * tokens of requests routed there that have not produced a first token yet, and the KV blocks of
 * every request still running, counted once per distinct block (requests sharing a prefix share
 * its blocks, as Dynamo's tracker counts unique block hashes). Predicted at route time, prefill
 * moved at first token, all freed at completion. Output blocks are not tracked
 * (`--router-track-output-blocks` is off by default).
 *
 * A request without block keys contributes `blockCount` anonymous blocks that are never shared.
 */

interface ActiveRequest {
  readonly endpointId: string;
  prefillTokens: number;
  readonly blockKeys: readonly bigint[] | null;
  readonly anonymousBlocks: number;
}

interface WorkerLoad {
  prefillTokens: number;
  /** Block key → number of active requests holding it. */
  readonly blockRefs: Map<bigint, number>;
  anonymousBlocks: number;
}

export class ActiveSequences {
  private readonly requests = new Map<string, ActiveRequest>();
  private readonly workers = new Map<string, WorkerLoad>();

  /** Prefill tokens routed to `endpointId` and not yet past their first token. */
  prefillTokens(endpointId: string): number {
    return this.workers.get(endpointId)?.prefillTokens ?? 0;
  }

  /** Distinct KV blocks of the requests running on `endpointId` (Dynamo's active blocks). */
  blocks(endpointId: string): number {
    const load = this.workers.get(endpointId);
    return load ? load.blockRefs.size + load.anonymousBlocks : 0;
  }

  /** Blocks of a prompt that `endpointId` does not already hold for a running request. */
  newBlocks(endpointId: string, blockKeys: readonly bigint[] | null, blockCount: number): number {
    if (!blockKeys) return blockCount;
    const refs = this.workers.get(endpointId)?.blockRefs;
    if (!refs) return blockKeys.length;
    let fresh = 0;
    for (const key of blockKeys) if (!refs.has(key)) fresh++;
    return fresh;
  }

  add(
    requestId: string,
    endpointId: string,
    prefillTokens: number,
    blockKeys: readonly bigint[] | null,
    blockCount: number,
  ): void {
    if (this.requests.has(requestId)) return;
    const anonymousBlocks = blockKeys ? 0 : blockCount;
    this.requests.set(requestId, { endpointId, prefillTokens, blockKeys, anonymousBlocks });
    const load = this.worker(endpointId);
    load.prefillTokens += prefillTokens;
    load.anonymousBlocks += anonymousBlocks;
    for (const key of blockKeys ?? []) load.blockRefs.set(key, (load.blockRefs.get(key) ?? 0) + 1);
  }

  /** The request's prefill finished: its prefill tokens stop counting. */
  prefillDone(requestId: string): void {
    const request = this.requests.get(requestId);
    if (!request || request.prefillTokens === 0) return;
    this.worker(request.endpointId).prefillTokens -= request.prefillTokens;
    request.prefillTokens = 0;
  }

  remove(requestId: string): void {
    const request = this.requests.get(requestId);
    if (!request) return;
    this.requests.delete(requestId);
    const load = this.worker(request.endpointId);
    load.prefillTokens -= request.prefillTokens;
    load.anonymousBlocks -= request.anonymousBlocks;
    for (const key of request.blockKeys ?? []) {
      const refs = (load.blockRefs.get(key) ?? 0) - 1;
      if (refs <= 0) load.blockRefs.delete(key);
      else load.blockRefs.set(key, refs);
    }
  }

  /** Forgets workers (and their requests) not in `activeIds`. */
  retain(activeIds: ReadonlySet<string>): void {
    for (const [id, request] of this.requests) {
      if (!activeIds.has(request.endpointId)) this.requests.delete(id);
    }
    for (const id of this.workers.keys()) if (!activeIds.has(id)) this.workers.delete(id);
  }

  private worker(endpointId: string): WorkerLoad {
    let load = this.workers.get(endpointId);
    if (!load) {
      load = { prefillTokens: 0, blockRefs: new Map(), anonymousBlocks: 0 };
      this.workers.set(endpointId, load);
    }
    return load;
  }
}
