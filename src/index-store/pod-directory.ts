/**
 * Pod ids ↔ small integers, kept in the shared `pods` buffer so reader threads resolve the pod
 * indices they find in key records without any message passing.
 *
 * The owner ({@link PodTable}) is the only writer: it wraps every name change in the directory's
 * version seqlock. Readers ({@link PodDirectory}) cache the names and re-read them only when the
 * version has moved, so the steady-state cost of a lookup is one atomic load.
 */
import { P_VERSION, type SharedLayout } from './shared-layout.ts';

const encoder = new TextEncoder();
const MAX_SPINS = 10_000;

/** Name resolution both sides offer to the prefix matcher. */
export interface PodNames {
  /** Pod id at `index`, or undefined when the index is free. */
  name(index: number): string | undefined;
  indexOf(podId: string): number | undefined;
  /** Brings the names up to date (readers); a no-op for the owner. */
  refresh(): void;
}

/** Owner side: allocates pod indices and maintains their generations. */
export class PodTable implements PodNames {
  readonly #layout: SharedLayout;
  readonly #byId = new Map<string, number>();
  readonly #ids: (string | undefined)[];
  /** Free indices, lowest last so they are reused lowest first. */
  readonly #free: number[];

  constructor(layout: SharedLayout) {
    this.#layout = layout;
    this.#ids = new Array<string | undefined>(layout.maxPods);
    this.#free = Array.from({ length: layout.maxPods }, (_, i) => layout.maxPods - 1 - i);
  }

  get size(): number {
    return this.#byId.size;
  }

  indexOf(podId: string): number | undefined {
    return this.#byId.get(podId);
  }

  refresh(): void {}

  /** Pod id at `index`, or undefined when the index is free. */
  name(index: number): string | undefined {
    return this.#ids[index];
  }

  /** Index of `podId`, allocating one (and publishing the name) when the pod is new. */
  acquire(podId: string): number {
    const known = this.#byId.get(podId);
    if (known !== undefined) return known;
    const bytes = encoder.encode(podId);
    if (bytes.length === 0 || bytes.length > this.#layout.podIdBytes) {
      throw new RangeError(`pod id must be 1..${this.#layout.podIdBytes} UTF-8 bytes: "${podId}"`);
    }
    const index = this.#free.pop();
    if (index === undefined)
      throw new RangeError(`block index pod table is full (${this.#layout.maxPods} pods)`);
    this.#writeName(index, bytes);
    this.#byId.set(podId, index);
    this.#ids[index] = podId;
    return index;
  }

  /** Frees `index` for reuse. The caller must already have purged the pod's entries. */
  release(index: number): void {
    const podId = this.#ids[index];
    if (podId === undefined) return;
    this.#writeName(index, null);
    this.#byId.delete(podId);
    this.#ids[index] = undefined;
    this.#free.push(index);
  }

  /** Current generation of a pod index. */
  gen(index: number): number {
    return this.#layout.podGen[index]!;
  }

  /** Advances a pod's generation, killing its confirmed entries at once; returns the new value. */
  bumpGen(index: number): number {
    const next = (this.#layout.podGen[index]! + 1) | 0;
    Atomics.store(this.#layout.podGen, index, next);
    return next;
  }

  #writeName(index: number, bytes: Uint8Array | null): void {
    const { podHeader, podNameLength, podNames, podIdBytes } = this.#layout;
    const version = podHeader[P_VERSION]!;
    Atomics.store(podHeader, P_VERSION, version + 1);
    if (bytes) podNames.set(bytes, index * podIdBytes);
    Atomics.store(podNameLength, index, bytes ? bytes.length : 0);
    Atomics.store(podHeader, P_VERSION, version + 2);
  }
}

/** Reader side: a cached, lock-free snapshot of the pod names. */
export class PodDirectory implements PodNames {
  readonly #layout: SharedLayout;
  #version = -1;
  #names: (string | undefined)[] = [];
  #byName = new Map<string, number>();

  constructor(layout: SharedLayout) {
    this.#layout = layout;
  }

  /** Re-reads the names if the owner changed them since the last call. */
  refresh(): void {
    const { podHeader } = this.#layout;
    let version = Atomics.load(podHeader, P_VERSION);
    if (version === this.#version) return;
    // Bounded: if the owner is preempted mid-update, keep the previous (consistent) snapshot.
    for (let spins = 0; spins < MAX_SPINS; spins++) {
      if ((version & 1) === 0) {
        const names = this.#readNames();
        const after = Atomics.load(podHeader, P_VERSION);
        if (after === version) {
          this.#names = names;
          this.#byName = new Map();
          names.forEach((name, i) => {
            if (name !== undefined) this.#byName.set(name, i);
          });
          this.#version = version;
          return;
        }
        version = after;
      } else {
        version = Atomics.load(podHeader, P_VERSION);
      }
    }
  }

  /** Pod id at `index`, or undefined when the index is free (as of the last refresh). */
  name(index: number): string | undefined {
    return this.#names[index];
  }

  indexOf(podId: string): number | undefined {
    return this.#byName.get(podId);
  }

  #readNames(): (string | undefined)[] {
    const { podNameLength, podNames, podIdBytes, maxPods } = this.#layout;
    const names = new Array<string | undefined>(maxPods);
    for (let i = 0; i < maxPods; i++) {
      const length = Atomics.load(podNameLength, i);
      if (length <= 0 || length > podIdBytes) continue;
      const start = podNames.byteOffset + i * podIdBytes;
      names[i] = Buffer.from(podNames.buffer, start, length).toString('utf8');
    }
    return names;
  }
}
