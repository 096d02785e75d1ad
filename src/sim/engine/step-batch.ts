/**
 * The work scheduled for one engine step: which requests compute how many tokens, and the
 * aggregates the timing model charges for. One instance is reused for every step of an engine.
 */
import type { SimRequest } from './sim-request.ts';

export class StepBatch {
  readonly requests: SimRequest[] = [];
  readonly numTokens: number[] = [];
  /** Whether the entry is a plain decode (1 token after the request's last sampled token). */
  readonly isDecode: boolean[] = [];
  /** Tokens of prompt (or recomputed) KV computed in the step. */
  prefillTokens = 0;
  /** Sequences decoding one token in the step. */
  decodeSeqs = 0;
  /** Sum over the step's sequences of the KV length attended to (computed + new tokens). */
  contextTokens = 0;

  get size(): number {
    return this.requests.length;
  }

  add(request: SimRequest, numTokens: number, isDecode: boolean): void {
    this.requests.push(request);
    this.numTokens.push(numTokens);
    this.isDecode.push(isDecode);
  }

  /** Drop a request scheduled earlier in this step (it was preempted); returns its token count. */
  remove(request: SimRequest): number {
    const i = this.requests.indexOf(request);
    if (i < 0) return 0;
    const n = this.numTokens[i]!;
    this.requests.splice(i, 1);
    this.numTokens.splice(i, 1);
    this.isDecode.splice(i, 1);
    return n;
  }

  clear(): void {
    this.requests.length = 0;
    this.numTokens.length = 0;
    this.isDecode.length = 0;
    this.prefillTokens = 0;
    this.decodeSeqs = 0;
    this.contextTokens = 0;
  }
}
