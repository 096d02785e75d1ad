/** An append-only float sample that grows by doubling (per-token ITL gaps run into the millions). */
export class GrowableSamples {
  private data = new Float64Array(1024);
  private size = 0;

  push(value: number): void {
    if (this.size === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }

  get length(): number {
    return this.size;
  }

  /** The samples pushed so far (a view, valid until the next push). */
  view(): Float64Array {
    return this.data.subarray(0, this.size);
  }
}
