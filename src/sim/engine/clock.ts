/**
 * Time source for the simulated engine. The same engine runs in real time behind HTTP and in
 * virtual time inside the discrete-event benchmark, so it never reads the wall clock directly.
 */
export interface Clock {
  /** Current time in seconds (engine time, not wall time). */
  now(): number;
  /** Run `fn` once `delaySeconds` of engine time have passed. */
  setTimer(delaySeconds: number, fn: () => void): TimerHandle;
}

export interface TimerHandle {
  cancel(): void;
}
