/**
 * Wall-clock time for the engine behind the HTTP simulator. `speed` > 1 runs the engine faster
 * than real time (engine seconds = wall seconds x speed), which keeps demos and integration tests
 * short while preserving every ratio of the timing model.
 */
import { performance } from 'node:perf_hooks';
import type { Clock, TimerHandle } from './clock.ts';

export interface RealClockOptions {
  /** Engine seconds per wall second; default 1. */
  readonly speed?: number;
  /** Do not keep the process alive for pending engine timers; default false. */
  readonly unref?: boolean;
}

export class RealClock implements Clock {
  readonly speed: number;
  readonly #origin = performance.now();
  readonly #unref: boolean;

  /** `options` may be just the speed factor. */
  constructor(options: RealClockOptions | number = {}) {
    if (typeof options === 'number') options = { speed: options };
    const speed = options.speed ?? 1;
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be > 0, got ${speed}`);
    this.speed = speed;
    this.#unref = options.unref ?? false;
  }

  now(): number {
    return ((performance.now() - this.#origin) / 1000) * this.speed;
  }

  setTimer(delaySeconds: number, fn: () => void): TimerHandle {
    if (Number.isNaN(delaySeconds)) throw new RangeError('timer delay is NaN');
    const due = this.now() + Math.max(0, delaySeconds);
    let cancelled = false;
    let immediate: NodeJS.Immediate | undefined;
    let timeout: NodeJS.Timeout | undefined;
    const arm = (): void => {
      const ms = ((due - this.now()) / this.speed) * 1000;
      // setTimeout clamps to >= 1 ms; a due timer (the engine's "start a step now") should not pay it.
      if (ms <= 0) {
        immediate = setImmediate(fire);
        if (this.#unref) immediate.unref();
      } else {
        timeout = setTimeout(fire, ms);
        if (this.#unref) timeout.unref();
      }
    };
    // libuv measures timeouts from a cached loop time, so a timer can fire a little before
    // `now()` reaches `due`; re-arm for the rest so that engine time never runs backwards.
    const fire = (): void => {
      if (cancelled) return;
      if (this.now() < due) arm();
      else fn();
    };
    arm();
    return {
      cancel: () => {
        cancelled = true;
        if (immediate !== undefined) clearImmediate(immediate);
        if (timeout !== undefined) clearTimeout(timeout);
      },
    };
  }
}
