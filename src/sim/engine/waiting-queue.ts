/**
 * The waiting queue: requests that already hold KV blocks first, then highest `priority`, then
 * FCFS by queue key. Preempted requests are
 * re-queued with a key below every arrival, which puts them at the front of their priority class
 * (vLLM `prepend_request`). A binary heap, because the scheduler pops and re-inserts requests it
 * has to skip (LoRA limit, KV still in transfer) every step.
 */
import type { SimRequest } from './sim-request.ts';

function ahead(a: SimRequest, b: SimRequest): boolean {
  if (a.holdsBlocksWhileWaiting !== b.holdsBlocksWhileWaiting) return a.holdsBlocksWhileWaiting;
  return a.priority > b.priority || (a.priority === b.priority && a.queueKey < b.queueKey);
}

export class WaitingQueue {
  readonly #heap: SimRequest[] = [];

  get size(): number {
    return this.#heap.length;
  }

  peek(): SimRequest | undefined {
    return this.#heap[0];
  }

  push(request: SimRequest): void {
    const heap = this.#heap;
    heap.push(request);
    this.#siftUp(heap.length - 1);
  }

  pop(): SimRequest | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top !== undefined && last !== undefined && heap.length > 0) {
      heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  /** Remove a request (abort); false if it is not queued. */
  remove(request: SimRequest): boolean {
    const heap = this.#heap;
    const i = heap.indexOf(request);
    if (i < 0) return false;
    const last = heap.pop()!;
    if (i < heap.length) {
      heap[i] = last;
      this.#siftDown(i);
      this.#siftUp(i);
    }
    return true;
  }

  /** Queued requests in no particular order. */
  values(): readonly SimRequest[] {
    return this.#heap;
  }

  #siftUp(i: number): void {
    const heap = this.#heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!ahead(item, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && ahead(heap[r]!, heap[l]!) ? r : l;
      if (!ahead(heap[child]!, item)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  }
}
