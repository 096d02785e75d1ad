/**
 * The engine's state for one request (vLLM `Request`): its token sequence (prompt, then the
 * tokens generated so far), how much of it has KV, its lifecycle and timestamps.
 */
import type { BlockExtraKeys } from '../../kv-protocol/events.ts';
import { RequestKvState, type KvRequest } from './kv-cache-manager.ts';
import type { EngineRequest, RequestObserver } from './types.ts';

export type RequestStatus = 'waiting' | 'transferring' | 'running' | 'finished';

export class SimRequest implements KvRequest {
  readonly id: string;
  readonly spec: EngineRequest;
  readonly observer: RequestObserver;
  readonly promptLength: number;
  /** Tokens this request will generate: 1 for a P/D prefill leg, else `maxTokens`. */
  readonly outputLimit: number;
  readonly priority: number;
  readonly loraName: string | null;
  readonly loraId: number | null;
  readonly arrivalTime: number;
  /** FCFS order among waiting requests; preempted requests get a key ahead of every arrival. */
  queueKey: number;
  status: RequestStatus = 'waiting';
  numComputedTokens = 0;
  numOutputTokens = 0;
  numPreemptions = 0;
  /** Prefix-cache hit at first admission (what vLLM reports as `cached_tokens`); -1 before. */
  cachedTokens = -1;
  firstScheduledTime = Number.NaN;
  firstTokenTime = Number.NaN;
  /** P/D decode leg: the prompt's KV is pulled from the prefill pod once, then it decodes. */
  remoteKvLoaded = false;
  /**
   * Queued with blocks already allocated (a decode leg whose KV has landed). Such requests are
   * admitted before all others: they cannot give their blocks back without running, and a
   * request they starve of blocks would otherwise keep preempting itself back ahead of them.
   */
  holdsBlocksWhileWaiting = false;
  readonly kv = new RequestKvState();
  readonly #firstBlockKeys: BlockExtraKeys;
  readonly #otherBlockKeys: BlockExtraKeys;

  constructor(
    spec: EngineRequest,
    observer: RequestObserver,
    arrivalTime: number,
    queueKey: number,
    loraId: number | null,
  ) {
    this.id = spec.id;
    this.spec = spec;
    this.observer = observer;
    this.promptLength = spec.promptTokenIds.length;
    this.outputLimit = spec.remoteDecode ? 1 : spec.maxTokens;
    this.priority = spec.priority ?? 0;
    this.loraName = spec.loraName;
    this.loraId = loraId;
    this.arrivalTime = arrivalTime;
    this.queueKey = queueKey;
    // vLLM `generate_block_hash_extra_keys`: LoRA name on every block, cache salt on block 0 only.
    const lora = spec.loraName === null ? [] : [spec.loraName];
    const first = spec.cacheSalt === null ? lora : [...lora, spec.cacheSalt];
    this.#firstBlockKeys = first.length > 0 ? first : null;
    this.#otherBlockKeys = lora.length > 0 ? lora : null;
  }

  get numTokens(): number {
    return this.promptLength + this.numOutputTokens;
  }

  tokensInRange(start: number, end: number): number[] {
    const prompt = this.spec.promptTokenIds;
    const p = this.promptLength;
    if (end <= p) return prompt.slice(start, end);
    const output = this.spec.outputTokenIds;
    if (start >= p) return output.slice(start - p, end - p);
    const out = prompt.slice(start, p);
    for (let i = 0; i < end - p; i++) out.push(output[i]!);
    return out;
  }

  extraKeysForBlock(blockIndex: number): BlockExtraKeys {
    return blockIndex === 0 ? this.#firstBlockKeys : this.#otherBlockKeys;
  }
}
