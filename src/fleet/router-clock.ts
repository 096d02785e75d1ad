/**
 * The clock fleet timestamps (`updatedAtMs`, `FleetView.nowMs`) are taken from.
 *
 * Metrics are written by the owner thread and compared against "now" on acceptor threads, so the
 * clock must agree across worker_threads: `performance.now()` alone does not (each thread has its
 * own time origin), `Date.now()` jumps with NTP. `timeOrigin + now()` is monotonic within a
 * thread and shares the epoch across threads.
 */
export type RouterClock = () => number;

/** Milliseconds since the epoch, monotonic within a thread, comparable across threads. */
export const routerClock: RouterClock = () => performance.timeOrigin + performance.now();
