/**
 * A discrete-event clock: time only moves when the owner runs queued timers. Several engines can
 * share one instance (the benchmark runs a whole fleet on one), and because ties are broken by
 * insertion order a run is fully deterministic.
 */
import type { Clock, TimerHandle } from './clock.ts';

class VirtualTimer implements TimerHandle {
  fn: (() => void) | null;

  constructor(
    readonly time: number,
    readonly seq: number,
    fn: () => void,
    private readonly onCancel: () => void,
  ) {
    this.fn = fn;
  }

  cancel(): void {
    if (this.fn === null) return;
    this.fn = null;
    this.onCancel();
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  #live = 0;
  // Binary min-heap on (time, seq). Cancelled timers stay in the heap and are skipped when popped.
  readonly #heap: VirtualTimer[] = [];
  readonly #onCancel = (): void => {
    this.#live--;
  };

  constructor(startTime = 0) {
    this.#now = startTime;
  }

  now(): number {
    return this.#now;
  }

  setTimer(delaySeconds: number, fn: () => void): TimerHandle {
    if (Number.isNaN(delaySeconds)) throw new RangeError('timer delay is NaN');
    const timer = new VirtualTimer(this.#now + Math.max(0, delaySeconds), this.#seq++, fn, this.#onCancel);
    this.#push(timer);
    this.#live++;
    return timer;
  }

  /** Timers scheduled and neither fired nor cancelled. */
  get pending(): number {
    return this.#live;
  }

  /** Time of the next live timer, or undefined when nothing is scheduled. */
  nextTime(): number | undefined {
    this.#dropCancelled();
    return this.#heap[0]?.time;
  }

  /** Fire the next timer (advancing time to it); false when nothing is scheduled. */
  step(): boolean {
    this.#dropCancelled();
    const timer = this.#pop();
    if (timer === undefined) return false;
    const fn = timer.fn!;
    timer.fn = null;
    this.#live--;
    this.#now = timer.time;
    fn();
    return true;
  }

  /** Fire every timer due at or before `time` (including ones they schedule), then set now to `time`. */
  runUntil(time: number): void {
    for (;;) {
      const next = this.nextTime();
      if (next === undefined || next > time) break;
      this.step();
    }
    if (time > this.#now) this.#now = time;
  }

  /**
   * Fire timers until none is left. `maxEvents` guards against a model that never goes idle.
   * Returns the number of timers fired.
   */
  runUntilIdle(maxEvents = Number.POSITIVE_INFINITY): number {
    let fired = 0;
    while (fired < maxEvents && this.step()) fired++;
    if (fired >= maxEvents && this.#live > 0) {
      throw new Error(`VirtualClock still busy after ${fired} events (now=${this.#now})`);
    }
    return fired;
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.fn === null) this.#pop();
  }

  #push(timer: VirtualTimer): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(timer, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): VirtualTimer | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    const n = heap.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(heap[r]!, heap[l]!) ? r : l;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
