/**
 * Position of `round-robin-picker`. Read while picking, advanced only when a decision is
 * dispatched, so re-running `schedule()` for the same request picks the same endpoint.
 */
export interface RoundRobinCursor {
  value(): number;
  advance(): void;
}

export class InMemoryRoundRobinCursor implements RoundRobinCursor {
  private position = 0;

  value(): number {
    return this.position;
  }

  advance(): void {
    this.position += 1;
  }
}
