/**
 * The owner thread's write side of the shared key table (layout in shared-layout.ts).
 *
 * Every change to a record is published under the record's seqlock: sequence to odd, key and the
 * changed slot words stored, sequence to the next even value. All stores are `Atomics.store` (sequentially
 * consistent), which is what keeps a reader on a weakly ordered CPU from seeing new slots under an
 * old even sequence.
 *
 * Policies (the table's memory is fixed at creation):
 * - A key's slots are packed in insertion order. A record is rewritten compacted whenever the owner
 *   touches it, dropping dead entries (stale generation, expired speculation).
 * - A key with all slots taken by live entries drops the oldest speculative entry, else the oldest
 *   entry, to admit a new pod (llm-d's per-key pod LRU does the same).
 * - A new key whose set is full replaces, in order of preference, a record with no live entries,
 *   then the least recently added-to record of the set (an approximate LRU by write: each add to a
 *   key refreshes it).
 */
import type { PodTable } from './pod-directory.ts';
import { setOf, WAYS, type SharedLayout } from './shared-layout.ts';
import {
  confirmedSlot,
  GEN_MASK,
  laterTick,
  MAX_REFS,
  slotExpiry,
  slotGen,
  slotIsSpeculative,
  slotPod,
  slotRefs,
  slotTier,
  speculativeSlot,
  tickAlive,
} from './slot-word.ts';

export class KeyTableWriter {
  readonly #layout: SharedLayout;
  readonly #pods: PodTable;
  /** Per record: value of #clock when an entry was last added to it. */
  readonly #touched: Uint32Array;
  readonly #scratch: Uint32Array;
  /** Expired speculative words the last #load dropped, uncounted when #store commits. */
  readonly #dropped: Uint32Array;
  #droppedCount = 0;
  #clock = 0;
  /** Set by #load when it dropped dead slots, i.e. the record needs rewriting. */
  #compacted = false;

  readonly confirmedByPod: Int32Array;
  readonly speculativeByPod: Int32Array;
  keys = 0;
  confirmed = 0;
  speculative = 0;
  evictedKeys = 0;
  evictedEntries = 0;

  constructor(layout: SharedLayout, pods: PodTable) {
    this.#layout = layout;
    this.#pods = pods;
    this.#touched = new Uint32Array(layout.capacity);
    this.#scratch = new Uint32Array(layout.slotsPerKey);
    this.#dropped = new Uint32Array(layout.slotsPerKey);
    this.confirmedByPod = new Int32Array(layout.maxPods);
    this.speculativeByPod = new Int32Array(layout.maxPods);
  }

  /** Private bytes this writer holds beside the shared buffers. */
  get privateBytes(): number {
    return this.#touched.byteLength + this.#scratch.byteLength + this.confirmedByPod.byteLength * 2;
  }

  /** Record holding the key, or -1. */
  find(lo: number, hi: number): number {
    const { words, sets, setWords } = this.#layout;
    const set = setOf(lo, hi, sets);
    const keyBase = set * setWords;
    for (let w = 0; w < WAYS; w++) {
      if (words[keyBase + 2 * w] === lo && words[keyBase + 2 * w + 1] === hi) return set * WAYS + w;
    }
    return -1;
  }

  /** Adds one reference of a confirmed (pod, tier) entry; replaces the pod's speculative entry. */
  addConfirmed(lo: number, hi: number, pod: number, tier: number, nowTick: number): void {
    const gen = this.#pods.gen(pod);
    let r = this.find(lo, hi);
    let n = 0;
    if (r < 0) r = this.#insert(lo, hi, nowTick);
    else n = this.#load(r, nowTick);
    const slots = this.#scratch;
    let done = false;
    for (let s = 0; s < n; s++) {
      const word = slots[s]!;
      if (slotPod(word) !== pod || slotIsSpeculative(word) || slotTier(word) !== tier) continue;
      slots[s] = confirmedSlot(pod, tier, Math.min(slotRefs(word) + 1, MAX_REFS), gen);
      done = true;
      break;
    }
    if (!done) {
      for (let s = 0; s < n; s++) {
        const word = slots[s]!;
        if (slotPod(word) !== pod || !slotIsSpeculative(word)) continue;
        slots[s] = confirmedSlot(pod, tier, 1, gen);
        this.#countSpeculative(pod, -1);
        this.#countConfirmed(pod, 1);
        done = true;
        break;
      }
    }
    if (!done) {
      n = this.#makeRoom(n);
      slots[n++] = confirmedSlot(pod, tier, 1, gen);
      this.#countConfirmed(pod, 1);
    }
    this.#touched[r] = ++this.#clock;
    this.#store(r, lo, hi, n);
  }

  /**
   * Adds or extends a speculative entry for `pod`, unless the pod already holds the key for real.
   * Returns whether the key now carries a speculative entry with `expiryTick`.
   */
  addSpeculative(lo: number, hi: number, pod: number, expiryTick: number, nowTick: number): boolean {
    let r = this.find(lo, hi);
    let n = 0;
    if (r < 0) r = this.#insert(lo, hi, nowTick);
    else n = this.#load(r, nowTick);
    const slots = this.#scratch;
    let existing = -1;
    for (let s = 0; s < n; s++) {
      const word = slots[s]!;
      if (slotPod(word) !== pod) continue;
      if (!slotIsSpeculative(word)) {
        if (this.#compacted) this.#store(r, lo, hi, n);
        return false;
      }
      existing = s;
    }
    if (existing >= 0) {
      slots[existing] = speculativeSlot(pod, laterTick(slotExpiry(slots[existing]!), expiryTick));
    } else {
      n = this.#makeRoom(n);
      slots[n++] = speculativeSlot(pod, expiryTick);
      this.#countSpeculative(pod, 1);
    }
    this.#touched[r] = ++this.#clock;
    this.#store(r, lo, hi, n);
    return true;
  }

  /** Drops one reference of the confirmed (pod, tier) entry. */
  release(lo: number, hi: number, pod: number, tier: number, nowTick: number): void {
    const r = this.find(lo, hi);
    if (r < 0) return;
    let n = this.#load(r, nowTick);
    const slots = this.#scratch;
    let changed = this.#compacted;
    for (let s = 0; s < n; s++) {
      const word = slots[s]!;
      if (slotPod(word) !== pod || slotIsSpeculative(word) || slotTier(word) !== tier) continue;
      const refs = slotRefs(word);
      if (refs > 1) {
        slots[s] = confirmedSlot(pod, tier, refs - 1, slotGen(word));
      } else {
        n = this.#removeAt(s, n);
        this.#countConfirmed(pod, -1);
      }
      changed = true;
      break;
    }
    if (changed) this.#store(r, lo, hi, n);
  }

  /** Removes the pod's entries of `tier` for the key (every reference; speculative ones count as gpu). */
  remove(lo: number, hi: number, pod: number, tier: number, nowTick: number): void {
    const r = this.find(lo, hi);
    if (r < 0) return;
    let n = this.#load(r, nowTick);
    const slots = this.#scratch;
    let changed = this.#compacted;
    for (let s = 0; s < n;) {
      const word = slots[s]!;
      if (slotPod(word) === pod && slotTier(word) === tier) {
        n = this.#removeAt(s, n);
        if (slotIsSpeculative(word)) this.#countSpeculative(pod, -1);
        else this.#countConfirmed(pod, -1);
        changed = true;
      } else {
        s++;
      }
    }
    if (changed) this.#store(r, lo, hi, n);
  }

  /** Whether the pod holds the key as a live confirmed entry, in any tier. */
  holdsConfirmed(lo: number, hi: number, pod: number): boolean {
    const r = this.find(lo, hi);
    if (r < 0) return false;
    const { words, slotsPerKey } = this.#layout;
    const gen = this.#pods.gen(pod) & GEN_MASK;
    const first = this.#layout.seqOffset(r) + 1;
    for (let s = first; s < first + slotsPerKey; s++) {
      const word = words[s]!;
      if (word === 0) break;
      if (slotPod(word) === pod && !slotIsSpeculative(word) && slotGen(word) === gen) return true;
    }
    return false;
  }

  /** Rewrites the key's record without its dead entries (used when a speculative entry expires). */
  compact(lo: number, hi: number, nowTick: number): void {
    const r = this.find(lo, hi);
    if (r < 0) return;
    const n = this.#load(r, nowTick);
    if (this.#compacted) this.#store(r, lo, hi, n);
  }

  /** Compacts `count` records from `from` (wrapping); returns where the next call should start. */
  reclaim(from: number, count: number, nowTick: number): number {
    const layout = this.#layout;
    const { capacity, words } = layout;
    let r = from % capacity;
    for (let i = 0; i < count; i++) {
      const lo = words[layout.keyOffset(r)]!;
      const hi = words[layout.keyOffset(r) + 1]!;
      if (lo !== 0 || hi !== 0) {
        const n = this.#load(r, nowTick);
        if (this.#compacted) this.#store(r, lo, hi, n);
      }
      r = r + 1 === capacity ? 0 : r + 1;
    }
    return r;
  }

  /** Forgets the confirmed-entry count of a pod whose generation was just advanced. */
  forgetConfirmed(pod: number): void {
    this.confirmed -= this.confirmedByPod[pod]!;
    this.confirmedByPod[pod] = 0;
  }

  /** Removes every entry of `pod` from the whole table (O(capacity)). */
  purgePod(pod: number, nowTick: number): void {
    const layout = this.#layout;
    const { capacity, words } = layout;
    const slots = this.#scratch;
    for (let r = 0; r < capacity; r++) {
      const lo = words[layout.keyOffset(r)]!;
      const hi = words[layout.keyOffset(r) + 1]!;
      if (lo === 0 && hi === 0) continue;
      let n = this.#load(r, nowTick);
      let changed = this.#compacted;
      for (let s = 0; s < n;) {
        if (slotPod(slots[s]!) === pod) {
          n = this.#removeAt(s, n);
          changed = true;
        } else {
          s++;
        }
      }
      if (changed) this.#store(r, lo, hi, n);
    }
    this.confirmed -= this.confirmedByPod[pod]!;
    this.speculative -= this.speculativeByPod[pod]!;
    this.confirmedByPod[pod] = 0;
    this.speculativeByPod[pod] = 0;
  }

  #live(word: number, nowTick: number): boolean {
    const pod = slotPod(word);
    if (this.#pods.name(pod) === undefined) return false;
    if (slotIsSpeculative(word)) return tickAlive(slotExpiry(word), nowTick);
    return slotGen(word) === (this.#pods.gen(pod) & GEN_MASK);
  }

  /**
   * Copies the record's live slots into the scratch, compacted; returns their count. Side-effect
   * free: expired speculative entries it dropped are uncounted only when #store commits the record.
   */
  #load(r: number, nowTick: number): number {
    const { words, slotsPerKey } = this.#layout;
    const out = this.#scratch;
    let n = 0;
    this.#compacted = false;
    this.#droppedCount = 0;
    const first = this.#layout.seqOffset(r) + 1;
    for (let s = first; s < first + slotsPerKey; s++) {
      const word = words[s]!;
      if (word === 0) break;
      if (this.#live(word, nowTick)) {
        out[n++] = word;
      } else {
        this.#compacted = true;
        // Stale confirmed entries were uncounted when their pod was cleared; expired speculation
        // stays counted until its record is rewritten.
        if (slotIsSpeculative(word)) this.#dropped[this.#droppedCount++] = word;
      }
    }
    return n;
  }

  /** Publishes `n` scratch slots as the record's content; an empty result frees the record. */
  #store(r: number, lo: number, hi: number, n: number): void {
    const layout = this.#layout;
    const { words, slotsPerKey } = layout;
    const seqAt = layout.seqOffset(r);
    const keyAt = layout.keyOffset(r);
    const version = words[seqAt]!;
    Atomics.store(words, seqAt, (version + 1) >>> 0);
    if (n === 0) {
      Atomics.store(words, keyAt, 0);
      Atomics.store(words, keyAt + 1, 0);
      this.keys--;
    } else if (words[keyAt] !== lo || words[keyAt + 1] !== hi) {
      Atomics.store(words, keyAt, lo);
      Atomics.store(words, keyAt + 1, hi);
    }
    for (let s = 0; s < slotsPerKey; s++) {
      const word = s < n ? this.#scratch[s]! : 0;
      if (words[seqAt + 1 + s] !== word) Atomics.store(words, seqAt + 1 + s, word);
    }
    Atomics.store(words, seqAt, (version + 2) >>> 0);
    for (let i = 0; i < this.#droppedCount; i++) {
      const pod = slotPod(this.#dropped[i]!);
      if (this.#pods.name(pod) !== undefined) this.#countSpeculative(pod, -1);
    }
    this.#droppedCount = 0;
  }

  /** Claims a record for a new key: a free way of its set, else a victim (see file comment). */
  #insert(lo: number, hi: number, nowTick: number): number {
    const { words, sets, setWords } = this.#layout;
    const set = setOf(lo, hi, sets);
    const base = set * WAYS;
    this.keys++;
    this.#droppedCount = 0;
    for (let w = 0; w < WAYS; w++) {
      if (words[set * setWords + 2 * w] === 0 && words[set * setWords + 2 * w + 1] === 0) return base + w;
    }
    let victim = base;
    for (let r = base; r < base + WAYS; r++) {
      if (this.#load(r, nowTick) === 0) {
        victim = r;
        break;
      }
      if (this.#touched[r]! < this.#touched[victim]!) victim = r;
    }
    // Uncount what the victim still holds; the caller overwrites the record.
    const n = this.#load(victim, nowTick);
    if (n > 0) this.evictedKeys++;
    for (let s = 0; s < n; s++) this.#uncount(this.#scratch[s]!);
    this.keys--; // the victim's key leaves as the new one arrives
    return victim;
  }

  /** Ensures a free scratch slot, evicting the oldest speculative entry, else the oldest entry. */
  #makeRoom(n: number): number {
    if (n < this.#layout.slotsPerKey) return n;
    let drop = 0;
    for (let s = 0; s < n; s++) {
      if (slotIsSpeculative(this.#scratch[s]!)) {
        drop = s;
        break;
      }
    }
    this.#uncount(this.#scratch[drop]!);
    this.evictedEntries++;
    return this.#removeAt(drop, n);
  }

  #removeAt(s: number, n: number): number {
    this.#scratch.copyWithin(s, s + 1, n);
    return n - 1;
  }

  #uncount(word: number): void {
    if (slotIsSpeculative(word)) this.#countSpeculative(slotPod(word), -1);
    else this.#countConfirmed(slotPod(word), -1);
  }

  #countConfirmed(pod: number, delta: number): void {
    this.confirmedByPod[pod]! += delta;
    this.confirmed += delta;
  }

  #countSpeculative(pod: number, delta: number): void {
    this.speculativeByPod[pod]! += delta;
    this.speculative += delta;
  }
}
