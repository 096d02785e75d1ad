/**
 * The router's own account of the work it sent each pod, kept at dispatch time so that a burst is
 * visible to the very next decision (scraped queue lengths lag by up to a scrape interval).
 *
 * Per pod it keeps a virtual clock, `busyUntilMs`: when the prefill work the router sent there is
 * predicted to be done. A dispatch starts at `max(now, busyUntilMs)` and pushes the clock by the
 * request's predicted prefill time, so the wait a new request would see is `busyUntilMs − now`
 * and decays by itself as time passes. When a first token is observed, the difference between
 * the observed and predicted time is applied to the clock (everything queued behind that request
 * moves by the same amount); a per-pod cumulative `shiftMs` keeps those corrections from being
 * applied twice to the same queued request.
 *
 * Requests whose first token is never reported (the live router only reports completion) are
 * presumed decoding once their predicted first token is `graceMs` in the past; pending requests
 * are kept in dispatch order, in which their predicted first tokens increase, so that count is a
 * binary search.
 */

/** What the router dispatched, with the predictions made at dispatch. */
export interface DispatchRecord {
  readonly requestId: string;
  readonly endpointId: string;
  readonly dispatchMs: number;
  readonly promptTokens: number;
  readonly uncachedTokens: number;
  /** Predicted wait behind earlier prefill work on the pod, at dispatch (ms). */
  readonly waitMs: number;
  /** Steps its prefill was predicted to take, including the fraction of a step in flight. */
  readonly steps: number;
  /** Predicted decode interference per step at dispatch (s). */
  readonly interferenceSeconds: number;
  /** Predicted first-token time minus the pod's shift at dispatch (the shift-free frame). */
  readonly predictedFrameMs: number;
  readonly shiftAtDispatchMs: number;
  /** Its place in its pod's dispatch sequence ({@link PodBook.dispatchedAfter}). */
  readonly podSeq: number;
  firstTokenMs: number | null;
  /** Mirrored from another routing thread or replica (whose completion message may be lost). */
  readonly foreign: boolean;
  /** Still in its pod's pending list (false once its first token came or it was presumed decoding). */
  inPending: boolean;
}

/** One pod's book. */
export class PodBook {
  busyUntilMs = Number.NEGATIVE_INFINITY;
  shiftMs = 0;
  lastDispatchMs = Number.NEGATIVE_INFINITY;
  /** Dispatched requests without a first token yet, in dispatch order. */
  readonly pending: DispatchRecord[] = [];
  /** Σ uncached tokens of `pending`. */
  pendingTokens = 0;
  outstanding = 0;
  /** Σ prompt tokens of outstanding requests. */
  promptTokens = 0;
  /** Times of recent errors (ms), oldest first. */
  readonly errorTimesMs: number[] = [];
  /** Exponentially decayed dispatch count, as of `rateAtMs`. */
  private rateCount = 0;
  private rateAtMs = 0;
  private firstDispatchMs: number | null = null;
  /** Dispatches recorded so far. */
  private dispatches = 0;
  /** Dispatch times of the last {@link RECENT_DISPATCHES} dispatches, by sequence number modulo. */
  private readonly recentDispatchMs = new Float64Array(RECENT_DISPATCHES);

  /** Notes a dispatch made at `atMs` and returns its sequence number. */
  noteDispatch(atMs: number): number {
    const seq = this.dispatches++;
    this.recentDispatchMs[seq % RECENT_DISPATCHES] = atMs;
    return seq;
  }

  /**
   * Whether a dispatch later in sequence than `seq` was made at or before `untilMs`: another
   * request that may have shared the engine steps of `seq`'s prefill. True when `seq` is too far
   * back to tell.
   */
  dispatchedAfter(seq: number, untilMs: number): boolean {
    if (this.dispatches - (seq + 1) > RECENT_DISPATCHES) return true;
    for (let s = seq + 1; s < this.dispatches; s++) {
      if ((this.recentDispatchMs[s % RECENT_DISPATCHES] as number) <= untilMs) return true;
    }
    return false;
  }

  /** Adds one dispatch at `nowMs` to the decayed count (time constant `windowMs`). */
  countDispatch(nowMs: number, windowMs: number): void {
    this.firstDispatchMs ??= nowMs;
    this.rateCount = this.rateCount * decay(nowMs - this.rateAtMs, windowMs) + 1;
    this.rateAtMs = Math.max(this.rateAtMs, nowMs);
  }

  /**
   * Recent dispatches per second at `nowMs`: the decayed count over the decayed window length
   * τ·(1 − e^(−Δ/τ)), Δ = time since the first dispatch (at least one second), so the estimate is
   * unbiased for a steady rate from the first seconds on instead of ramping up over τ.
   */
  arrivalRate(nowMs: number, windowMs: number): number {
    if (windowMs <= 0 || this.firstDispatchMs === null) return 0;
    const elapsed = Math.max(MIN_RATE_SPAN_MS, nowMs - this.firstDispatchMs);
    const span = windowMs * (1 - Math.exp(-elapsed / windowMs));
    return (this.rateCount * decay(nowMs - this.rateAtMs, windowMs) * 1000) / span;
  }

  /** Predicted first-token time of a pending record, with the corrections made since its dispatch. */
  predictedFirstTokenMs(record: DispatchRecord): number {
    return record.predictedFrameMs + this.shiftMs;
  }

  /** Pending requests whose predicted first token is more than `graceMs` before `nowMs`. */
  presumedDecoding(nowMs: number, graceMs: number): number {
    const limit = nowMs - graceMs - this.shiftMs;
    const pending = this.pending;
    if (pending.length === 0 || (pending[0] as DispatchRecord).predictedFrameMs > limit) return 0;
    let low = 0;
    let high = pending.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((pending[mid] as DispatchRecord).predictedFrameMs <= limit) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * Uncached tokens of the pending requests not presumed decoding (`skip` = how many of the oldest
   * are): prefill work the pod has certainly not finished, whatever the predictions said.
   */
  pendingUncached(skip: number): number {
    let tokens = this.pendingTokens;
    // Only requests that became overdue since the last sweep are skipped here: a handful.
    for (let i = 0; i < skip && i < this.pending.length; i++)
      tokens -= (this.pending[i] as DispatchRecord).uncachedTokens;
    return Math.max(0, tokens);
  }

  /** Uncached tokens of pending requests dispatched after `sinceMs` (work the last scrape cannot show). */
  uncachedSince(sinceMs: number): number {
    let tokens = 0;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const record = this.pending[i] as DispatchRecord;
      if (record.dispatchMs <= sinceMs) break;
      tokens += record.uncachedTokens;
    }
    return tokens;
  }

  /** Errors in the window ending at the last one. */
  recentErrors(windowMs: number): number {
    const last = this.errorTimesMs.at(-1);
    if (last === undefined) return 0;
    let count = 0;
    for (
      let i = this.errorTimesMs.length - 1;
      i >= 0 && last - (this.errorTimesMs[i] as number) <= windowMs;
      i--
    ) {
      count++;
    }
    return count;
  }

  addPending(record: DispatchRecord): void {
    this.pending.push(record);
    this.pendingTokens += record.uncachedTokens;
    record.inPending = true;
  }

  removePending(record: DispatchRecord): void {
    if (!record.inPending) return;
    record.inPending = false;
    this.pendingTokens -= record.uncachedTokens;
    // Usually at or near the front: first tokens arrive roughly in dispatch order.
    const index = this.pending.indexOf(record);
    if (index >= 0) this.pending.splice(index, 1);
  }

  /**
   * Moves the requests presumed decoding (past their predicted first token by `graceMs`) out of
   * the pending list, so reads stay O(1) however many requests the pod holds.
   */
  sweep(nowMs: number, graceMs: number): void {
    const count = this.presumedDecoding(nowMs, graceMs);
    if (count === 0) return;
    for (let i = 0; i < count; i++) {
      const record = this.pending[i] as DispatchRecord;
      record.inPending = false;
      this.pendingTokens -= record.uncachedTokens;
    }
    this.pending.splice(0, count);
  }
}

/** What a first-token observation tells the rate learner. */
export interface FirstTokenObservation {
  readonly record: DispatchRecord;
  readonly ttftMs: number;
  /** The wait the request actually had ahead of it, as far as the corrections since its dispatch tell. */
  readonly waitMs: number;
}

/** The fields a dispatch is recorded with (what {@link PodLedger.dispatch} takes). */
export type DispatchFields = Omit<
  DispatchRecord,
  'predictedFrameMs' | 'shiftAtDispatchMs' | 'podSeq' | 'firstTokenMs' | 'inPending' | 'foreign'
>;

/**
 * How long a mirrored record may stay outstanding. Its completion arrives as a message that can be
 * lost (a Redis outage, a crashed replica); without a bound the record would hold its pod's
 * outstanding count, and its prefill floor if it never saw a first token either, for good.
 */
export const FOREIGN_RECORD_MAX_AGE_MS = 300_000;
/**
 * A mirrored request's id in the receiving ledger. Request ids may come from clients
 * (`x-request-id`) and repeat, so each sender (a thread, a replica) gets its own namespace.
 */
export function mirroredRequestId(origin: string, requestId: string): string {
  return `${origin}/${requestId}`;
}

/** How often the ledger looks for expired mirrored records. */
const FOREIGN_SWEEP_INTERVAL_MS = 1_000;

/** {@link PodLedger}'s constructor arguments, as the scheduler state factory passes them. */
export interface PodLedgerOptions {
  readonly errorWindowMs: number;
  readonly rateWindowMs: number;
  readonly graceMs: number;
}

/**
 * What the picker needs of a ledger. The scheduler state factory provides it
 * (`SchedulerStateFactory.podLedger`) so a router's acceptor threads can mirror one another's
 * dispatches, first tokens and completions: a thread whose ledger held only its own dispatches saw
 * 1/n of each pod's queue.
 */
export type PodLedgerStore = Pick<
  PodLedger,
  'dispatch' | 'firstToken' | 'complete' | 'record' | 'book' | 'retain' | 'presumeGraceMs'
>;

export class PodLedger {
  private readonly pods = new Map<string, PodBook>();
  private readonly requests = new Map<string, DispatchRecord>();
  /** Whether first-token events arrive (the DES reports them; the live router reports completions only). */
  private reportsFirstTokens = false;
  /** Mirrored records held, and when they were last checked for expiry. */
  private foreignCount = 0;
  private lastForeignSweepMs = Number.NEGATIVE_INFINITY;

  /**
   * @param errorWindowMs how long errors are remembered (for quarantine)
   * @param rateWindowMs time constant of the per-pod arrival-rate estimate
   * @param graceMs how late past its predicted first token a request is presumed decoding, when
   *   no first-token events arrive
   */
  constructor(
    private readonly errorWindowMs: number,
    private readonly rateWindowMs: number,
    private readonly graceMs: number,
  ) {}

  /**
   * Grace before a pending request is presumed decoding. With first-token events none is: a
   * request without one really is still waiting (e.g. for KV memory), and its lateness is the signal.
   */
  get presumeGraceMs(): number {
    return this.reportsFirstTokens ? Number.POSITIVE_INFINITY : this.graceMs;
  }

  /** The pod's book, or undefined when the router sent it nothing yet. */
  book(endpointId: string): PodBook | undefined {
    return this.pods.get(endpointId);
  }

  /**
   * Records a dispatch whose prefill is predicted to start after `waitMs` and end at
   * `predictedFirstTokenMs` (which becomes the pod's `busyUntilMs`). `awaitsFirstToken` = false
   * when no first-token event will come for it (a buffered response): it then only moves the
   * pod's clock and stays out of the pending list, whose prefill work is a floor on the backlog
   * until each request's first token is seen.
   */
  dispatch(
    fields: DispatchFields,
    predictedFirstTokenMs: number,
    awaitsFirstToken = true,
    foreign = false,
  ): DispatchRecord {
    if (fields.dispatchMs - this.lastForeignSweepMs >= FOREIGN_SWEEP_INTERVAL_MS) {
      this.lastForeignSweepMs = fields.dispatchMs;
      if (this.foreignCount > 0) this.expireForeign(fields.dispatchMs - FOREIGN_RECORD_MAX_AGE_MS);
    }
    const book = this.bookFor(fields.endpointId);
    const record: DispatchRecord = {
      ...fields,
      predictedFrameMs: predictedFirstTokenMs - book.shiftMs,
      shiftAtDispatchMs: book.shiftMs,
      podSeq: book.noteDispatch(fields.dispatchMs),
      firstTokenMs: null,
      foreign,
      inPending: false,
    };
    if (foreign) this.foreignCount++;
    // A request id seen again (a re-dispatch) replaces its old record.
    if (this.requests.has(fields.requestId)) this.forget(fields.requestId);
    this.requests.set(fields.requestId, record);
    book.busyUntilMs = Math.max(book.busyUntilMs, predictedFirstTokenMs);
    book.countDispatch(fields.dispatchMs, this.rateWindowMs);
    book.lastDispatchMs = Math.max(book.lastDispatchMs, fields.dispatchMs);
    const grace = this.presumeGraceMs;
    if (Number.isFinite(grace)) for (const other of this.pods.values()) other.sweep(fields.dispatchMs, grace);
    if (awaitsFirstToken) book.addPending(record);
    book.outstanding++;
    book.promptTokens += fields.promptTokens;
    return record;
  }

  /**
   * The request's first token arrived at `nowMs`; corrects the pod's clock. `realtime` = reported
   * as it happened (a first-token event), not reconstructed at completion from a measured TTFT.
   */
  firstToken(requestId: string, nowMs: number, realtime = true): FirstTokenObservation | undefined {
    if (realtime) this.reportsFirstTokens = true;
    const record = this.requests.get(requestId);
    if (!record || record.firstTokenMs !== null) return undefined;
    const book = this.bookFor(record.endpointId);
    const shiftSinceDispatch = book.shiftMs - record.shiftAtDispatchMs;
    const error = nowMs - book.predictedFirstTokenMs(record);
    book.removePending(record);
    record.firstTokenMs = nowMs;
    book.shiftMs += error;
    // Everything queued behind this request moves with it; with nothing queued the pod is free now.
    book.busyUntilMs = book.pending.length > 0 ? Math.max(nowMs, book.busyUntilMs + error) : nowMs;
    return {
      record,
      ttftMs: nowMs - record.dispatchMs,
      waitMs: Math.max(0, record.waitMs + shiftSinceDispatch),
    };
  }

  /** The request finished (any outcome). Returns its record if it was known. */
  complete(
    requestId: string,
    nowMs: number,
    failed: boolean,
    endpointId?: string,
  ): DispatchRecord | undefined {
    const record = this.requests.get(requestId);
    if (failed) this.recordError(endpointId ?? record?.endpointId, nowMs);
    if (!record) return undefined;
    this.forget(requestId);
    if (record.firstTokenMs === null) {
      const book = this.pods.get(record.endpointId);
      if (book && book.pending.length === 0) book.busyUntilMs = Math.min(book.busyUntilMs, nowMs);
    }
    return record;
  }

  /** The outstanding request's record, if the router dispatched it through this picker. */
  record(requestId: string): DispatchRecord | undefined {
    return this.requests.get(requestId);
  }

  retain(activeIds: ReadonlySet<string>): void {
    for (const [id, record] of this.requests) {
      if (activeIds.has(record.endpointId)) continue;
      this.requests.delete(id);
      if (record.foreign) this.foreignCount--;
    }
    for (const id of this.pods.keys()) if (!activeIds.has(id)) this.pods.delete(id);
  }

  /** Drops mirrored records dispatched before `beforeMs` (their completion never came). */
  private expireForeign(beforeMs: number): void {
    for (const [id, record] of this.requests) {
      if (record.foreign && record.dispatchMs < beforeMs) this.forget(id);
    }
  }

  private forget(requestId: string): void {
    const record = this.requests.get(requestId);
    if (!record) return;
    this.requests.delete(requestId);
    if (record.foreign) this.foreignCount--;
    const book = this.pods.get(record.endpointId);
    if (!book) return;
    book.outstanding = Math.max(0, book.outstanding - 1);
    book.promptTokens = Math.max(0, book.promptTokens - record.promptTokens);
    book.removePending(record);
  }

  private recordError(endpointId: string | undefined, nowMs: number): void {
    if (endpointId === undefined) return;
    const errors = this.bookFor(endpointId).errorTimesMs;
    errors.push(nowMs);
    while (errors.length > 0 && nowMs - (errors[0] as number) > this.errorWindowMs) errors.shift();
  }

  private bookFor(endpointId: string): PodBook {
    let book = this.pods.get(endpointId);
    if (!book) {
      book = new PodBook();
      this.pods.set(endpointId, book);
    }
    return book;
  }
}

/** Dispatch times each pod's book remembers (enough to cover one prefill's worth of arrivals). */
const RECENT_DISPATCHES = 32;

/** Shortest history the arrival rate is averaged over (a first dispatch is not an infinite rate). */
const MIN_RATE_SPAN_MS = 1000;

/** exp(−Δ/τ) for Δ ≥ 0 (a count observed later than "now" is not decayed). */
function decay(elapsedMs: number, windowMs: number): number {
  return elapsedMs <= 0 || windowMs <= 0 ? 1 : Math.exp(-elapsedMs / windowMs);
}
