/**
 * Longest-prefix scoring over the shared table, lock-free (shared reference
 * `kv-events-and-hashing.md` §4.6). Used by reader threads and by the owner alike.
 *
 * Reading a record follows the seqlock protocol of shared-layout.ts: load the record's sequence
 * (retry while odd), read key and slots, load the sequence again and retry the record if it moved.
 * Every load that decides the answer is an `Atomics.load`, so none can be reordered across the
 * sequence checks on any CPU; plain loads only pick the candidate record, which is then re-checked.
 * A record that stays busy past a bounded number of attempts (the owner thread was preempted
 * mid-write, or rewrites that one key nonstop) is treated as absent: the answer is then a shorter
 * prefix, never a torn one.
 *
 * Cost is dominated by memory: each key is a random access into the table (its set's key line and
 * its record), plus ~10 ns per `Atomics.load` (not inlined by V8 11). Per call the matcher allocates
 * only the key-halves view, the result map and, with a pod filter, the list of filtered indices.
 */
import type { BlockKeyList, PrefixMatch } from './block-index.ts';
import { keyHalves } from './key-halves.ts';
import type { PodNames } from './pod-directory.ts';
import { setOf, WAYS, type SharedLayout } from './shared-layout.ts';
import {
  slotExpiry,
  slotGen,
  slotIsSpeculative,
  slotPod,
  slotTier,
  tickAlive,
  tickAt,
  GEN_MASK,
} from './slot-word.ts';

const MAX_ATTEMPTS = 10_000;
const EMPTY: readonly number[] = [];

export class PrefixMatcher {
  readonly #layout: SharedLayout;
  readonly #pods: PodNames;
  readonly #now: () => number;
  /** Attempt stamp per pod: the pod was seen in the record read under this stamp. */
  readonly #seenStamp: Uint32Array;
  readonly #keyWeight: Float64Array;
  readonly #totalWeight: Float64Array;
  readonly #blocks: Int32Array;
  readonly #active: Int32Array;
  readonly #found: Int32Array;
  /** Pods present at key 0 of the current walk. */
  readonly #candidates: Int32Array;
  readonly #allowed: Uint8Array;
  readonly #genStamp: Uint32Array;
  readonly #genValue: Int32Array;
  #stamp = 0;
  /** Lookup counter, for the per-lookup generation cache. */
  #call = 0;
  #foundCount = 0;

  constructor(layout: SharedLayout, pods: PodNames, now: () => number) {
    this.#layout = layout;
    this.#pods = pods;
    this.#now = now;
    const n = layout.maxPods;
    this.#seenStamp = new Uint32Array(n);
    this.#keyWeight = new Float64Array(n);
    this.#totalWeight = new Float64Array(n);
    this.#blocks = new Int32Array(n);
    this.#active = new Int32Array(n);
    this.#found = new Int32Array(layout.slotsPerKey);
    this.#candidates = new Int32Array(layout.slotsPerKey);
    this.#allowed = new Uint8Array(n);
    this.#genStamp = new Uint32Array(n);
    this.#genValue = new Int32Array(n);
  }

  longestPrefix(requestKeys: BlockKeyList, podIds?: Iterable<string>): Map<string, PrefixMatch> {
    const result = new Map<string, PrefixMatch>();
    if (requestKeys.length === 0) return result;
    this.#pods.refresh();
    this.#nextCall();
    const filter = podIds !== undefined;
    const marked = filter ? this.#markAllowed(podIds) : EMPTY;
    try {
      const candidates = this.#walk(
        keyHalves(requestKeys),
        tickAt(this.#now(), this.#layout.epochMs),
        filter,
      );
      for (let i = 0; i < candidates; i++) {
        const pod = this.#candidates[i]!;
        const id = this.#pods.name(pod);
        if (id !== undefined)
          result.set(id, { blocks: this.#blocks[pod]!, weighted: this.#totalWeight[pod]! });
      }
      return result;
    } finally {
      for (let i = 0; i < marked.length; i++) this.#allowed[marked[i]!] = 0;
    }
  }

  /**
   * The prefix walk (kept apart from result building so the long loop optimizes on its own).
   * Fills per-pod blocks/weights; returns the number of candidates (pods present at key 0).
   */
  #walk(halves: Uint32Array, nowTick: number, filter: boolean): number {
    // Key 0 decides the candidates; every later key can only drop pods.
    if (!this.#readKey(halves[0]!, halves[1]!, nowTick, filter)) return 0;
    const active = this.#active;
    const blocks = this.#blocks;
    const total = this.#totalWeight;
    const keyWeight = this.#keyWeight;
    const seen = this.#seenStamp;
    let activeCount = 0;
    for (let i = 0; i < this.#foundCount; i++) {
      const pod = this.#found[i]!;
      active[activeCount++] = pod;
      this.#candidates[i] = pod;
      blocks[pod] = 1;
      total[pod] = keyWeight[pod]!;
    }
    const candidates = activeCount;
    const keyCount = halves.length >>> 1;
    for (let k = 1; k < keyCount && activeCount > 0; k++) {
      if (!this.#readKey(halves[2 * k]!, halves[2 * k + 1]!, nowTick, filter)) break;
      const stamp = this.#stamp;
      let kept = 0;
      for (let i = 0; i < activeCount; i++) {
        const pod = active[i]!;
        if (seen[pod] !== stamp) continue;
        blocks[pod]!++;
        total[pod]! += keyWeight[pod]!;
        active[kept++] = pod;
      }
      activeCount = kept;
    }
    return candidates;
  }

  /** Marks the pods of a filter in #allowed; returns the indices marked (to unmark after). */
  #markAllowed(podIds: Iterable<string>): number[] {
    const marked: number[] = [];
    for (const id of podIds) {
      const index = this.#pods.indexOf(id);
      if (index !== undefined && this.#allowed[index] === 0) {
        this.#allowed[index] = 1;
        marked.push(index);
      }
    }
    return marked;
  }

  /**
   * Reads one key's record into the per-pod scratch (seen stamp + best tier weight). Returns false
   * when the key is absent or has no live entry for an allowed pod.
   */
  #readKey(lo: number, hi: number, nowTick: number, filter: boolean): boolean {
    const layout = this.#layout;
    const { words, slotsPerKey, podGen, tierWeights, sets, setWords } = layout;
    if (lo === 0 && hi === 0) return false; // (0, 0) marks an empty record; key 0 is never stored
    const set = setOf(lo, hi, sets);
    const keyBase = set * setWords;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // Plain loads find the candidate record; only the checks below, under the seqlock, count.
      let record = -1;
      for (let w = 0; w < WAYS; w++) {
        if (words[keyBase + 2 * w] === lo && words[keyBase + 2 * w + 1] === hi) {
          record = set * WAYS + w;
          break;
        }
      }
      if (record < 0) return false;
      const seqAt = layout.seqOffset(record);
      const keyAt = layout.keyOffset(record);
      const before = Atomics.load(words, seqAt);
      if ((before & 1) !== 0) continue;
      if (Atomics.load(words, keyAt) !== lo || Atomics.load(words, keyAt + 1) !== hi) continue;

      const stamp = this.#nextStamp();
      const seen = this.#seenStamp;
      const keyWeight = this.#keyWeight;
      const found = this.#found;
      const allowed = this.#allowed;
      const genStamp = this.#genStamp;
      const genValue = this.#genValue;
      const call = this.#call;
      let foundCount = 0;
      const first = seqAt + 1;
      for (let s = 0; s < slotsPerKey; s++) {
        const word = Atomics.load(words, first + s);
        if (word === 0) break;
        const pod = slotPod(word);
        if (pod >= seen.length || (filter && allowed[pod] === 0)) continue;
        if (slotIsSpeculative(word)) {
          if (!tickAlive(slotExpiry(word), nowTick)) continue;
        } else {
          // A pod's generation is loaded once per lookup: a clear landing mid-lookup may be missed.
          if (genStamp[pod] !== call) {
            genStamp[pod] = call;
            genValue[pod] = Atomics.load(podGen, pod) & GEN_MASK;
          }
          if (slotGen(word) !== genValue[pod]) continue;
        }
        const weight = tierWeights[slotTier(word)]!;
        if (seen[pod] !== stamp) {
          seen[pod] = stamp;
          keyWeight[pod] = weight;
          found[foundCount++] = pod;
        } else if (weight > keyWeight[pod]!) {
          keyWeight[pod] = weight;
        }
      }
      this.#foundCount = foundCount;
      if (Atomics.load(words, seqAt) !== before) continue;
      return this.#foundCount > 0;
    }
    return false;
  }

  #nextCall(): void {
    this.#call = (this.#call + 1) >>> 0;
    if (this.#call === 0) {
      this.#genStamp.fill(0);
      this.#call = 1;
    }
  }

  #nextStamp(): number {
    this.#stamp = (this.#stamp + 1) >>> 0;
    if (this.#stamp === 0) {
      this.#seenStamp.fill(0);
      this.#stamp = 1;
    }
    return this.#stamp;
  }
}
