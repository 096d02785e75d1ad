/**
 * One decision at a time while a placement is being settled with the other routers.
 *
 * A placement claim in Redis takes a round trip, and the request is dispatched only after it. The
 * scheduler's plugins learn of a placement at dispatch (the picker's ledger, the speculative index
 * insert, the in-flight counts), so a decision made during that round trip is blind to it. When a
 * burst of new prompts reaches one replica at once, every one of them was decided in the first's
 * round trip, on the same view, and they piled onto the pod that view made cheapest.
 *
 * A decision that will claim therefore takes a turn. Turns are free (taken synchronously) unless a
 * decision is awaiting its claim; then the next ones queue, first come first served, and each
 * decides again after the one before it was dispatched.
 *
 * Routing must not stop for a slow Redis, so every wait is bounded. A waiter goes ahead without a
 * turn (deciding alone, as without turns) when:
 * - the queue has not moved for `stallMs` (a holder's settlement: at most two claim round trips);
 * - it has waited `maxWaitMs` in all, however the queue moved;
 * - it would join `maxQueue` others already waiting.
 * A holder that never ends its turn (a bug, a store without a bound) loses it after twice `stallMs`,
 * so the decisions after its waiters find turns free again. "Not moved" is judged after
 * the event loop's I/O phase, as the claim's own timeout is: when this process was busy past the
 * deadline, the claim's answer is usually waiting in the socket, and timing out every waiter at
 * once would send the whole queue off blind, onto one pod.
 */

/** The right to decide now; `end` it once the decision is settled (idempotent). */
export interface PlacementTurn {
  /** False when the decision goes ahead without a turn (a wait bound was reached). */
  readonly granted: boolean;
  end(): void;
}

export interface PlacementTurnsOptions {
  /** How long the queue may stand still before its waiters go ahead (ms). */
  readonly stallMs: number;
  /** Longest any one decision waits (ms). */
  readonly maxWaitMs: number;
  /** Most decisions waiting at once; a further one goes ahead without a turn. */
  readonly maxQueue: number;
}

interface Waiter {
  readonly grant: (turn: PlacementTurn) => void;
  readonly deadline: number;
  timer: NodeJS.Timeout | null;
  /** Hand-overs seen when the timer was armed: more since then = the queue moved. */
  handOvers: number;
  armedAt: number;
}

const NO_TURN: PlacementTurn = { granted: false, end() {} };

export class PlacementTurns {
  #busy = false;
  readonly #queue: Waiter[] = [];
  #handOvers = 0;

  constructor(private readonly o: PlacementTurnsOptions) {
    if (!(o.stallMs >= 0) || !(o.maxWaitMs >= 0) || !(o.maxQueue >= 0)) {
      throw new RangeError(`placement turn bounds must be >= 0, got ${JSON.stringify(o)}`);
    }
  }

  /** Decisions waiting for a turn. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** A turn, synchronously when nobody holds one, else once the decisions before this one are dispatched. */
  take(): PlacementTurn | Promise<PlacementTurn> {
    if (!this.#busy) {
      this.#busy = true;
      return this.#turn();
    }
    if (this.#queue.length >= this.o.maxQueue) return NO_TURN;
    return new Promise<PlacementTurn>((resolve) => {
      const waiter: Waiter = {
        grant: resolve,
        deadline: performance.now() + this.o.maxWaitMs,
        timer: null,
        handOvers: this.#handOvers,
        armedAt: 0,
      };
      this.#arm(waiter);
      this.#queue.push(waiter);
    });
  }

  #arm(waiter: Waiter): void {
    waiter.handOvers = this.#handOvers;
    waiter.armedAt = performance.now();
    const delay = Math.max(0, Math.min(this.o.stallMs, waiter.deadline - performance.now()));
    waiter.timer = setTimeout(() => {
      waiter.timer = null;
      // After the I/O phase: an answer that arrived while this process was busy ends its turn first.
      setImmediate(() => this.#expire(waiter));
    }, delay);
    waiter.timer.unref();
  }

  #expire(waiter: Waiter): void {
    const at = this.#queue.indexOf(waiter);
    if (at < 0) return;
    const now = performance.now();
    // Timers may fire up to a millisecond early (they round to whole milliseconds).
    const overdue = now >= waiter.deadline - 1;
    const stalled = this.#handOvers === waiter.handOvers && now - waiter.armedAt >= this.o.stallMs - 1;
    if (!overdue && !stalled) {
      this.#arm(waiter);
      return;
    }
    this.#queue.splice(at, 1);
    waiter.grant(NO_TURN);
  }

  #turn(): PlacementTurn {
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearTimeout(lease);
      if (this.#queue.length === 0) {
        this.#busy = false;
        return;
      }
      this.#handOvers++;
      // The caller dispatches in the microtasks after its decision returns; hand over after them.
      setImmediate(() => this.#handOver());
    };
    // A lease: its waiters gave up after stallMs; the decisions after them must find the turn free.
    const lease = setTimeout(end, 2 * this.o.stallMs);
    lease.unref();
    return { granted: true, end };
  }

  #handOver(): void {
    const next = this.#queue.shift();
    if (!next) {
      this.#busy = false;
      return;
    }
    if (next.timer) clearTimeout(next.timer);
    next.grant(this.#turn());
  }
}
