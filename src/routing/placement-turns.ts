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
 * decides again after the one before it was dispatched. A waiting decision goes ahead without a turn when the
 * queue has not moved for `maxWaitMs` (the claim timeout): a slow Redis must not stop routing.
 * "Not moved" is judged after the event loop's I/O phase, as the claim's own timeout is: when this
 * process was busy past the deadline, the claim's answer is usually waiting in the socket, and
 * timing out every waiter at once would send the whole queue off blind, onto one pod.
 */

/** The right to decide now; `end` it once the decision is settled (idempotent). */
export interface PlacementTurn {
  /** False when the wait timed out and the decision goes ahead without a turn. */
  readonly granted: boolean;
  end(): void;
}

interface Waiter {
  readonly grant: (turn: PlacementTurn) => void;
  timer: NodeJS.Timeout | null;
  /** Hand-overs seen when the timer was armed: more since then = the queue moved. */
  handOvers: number;
}

const NO_TURN: PlacementTurn = { granted: false, end() {} };

export class PlacementTurns {
  #busy = false;
  readonly #queue: Waiter[] = [];
  #handOvers = 0;

  /** @param maxWaitMs how long a decision waits for a queue that does not move (ms). */
  constructor(private readonly maxWaitMs: number) {
    if (!(maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${maxWaitMs}`);
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
    return new Promise<PlacementTurn>((resolve) => {
      const waiter: Waiter = { grant: resolve, timer: null, handOvers: this.#handOvers };
      this.#arm(waiter);
      this.#queue.push(waiter);
    });
  }

  #arm(waiter: Waiter): void {
    waiter.handOvers = this.#handOvers;
    waiter.timer = setTimeout(() => {
      waiter.timer = null;
      // After the I/O phase: an answer that arrived while this process was busy ends its turn first.
      setImmediate(() => this.#expire(waiter));
    }, this.maxWaitMs);
    waiter.timer.unref();
  }

  #expire(waiter: Waiter): void {
    const at = this.#queue.indexOf(waiter);
    if (at < 0) return;
    if (this.#handOvers !== waiter.handOvers) {
      this.#arm(waiter);
      return;
    }
    this.#queue.splice(at, 1);
    waiter.grant(NO_TURN);
  }

  #turn(): PlacementTurn {
    let ended = false;
    return {
      granted: true,
      end: () => {
        if (ended) return;
        ended = true;
        if (this.#queue.length === 0) {
          this.#busy = false;
          return;
        }
        this.#handOvers++;
        // The caller dispatches in the microtasks after its decision returns; hand over after them.
        setImmediate(() => this.#handOver());
      },
    };
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
