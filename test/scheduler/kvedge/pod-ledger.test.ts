import { describe, expect, it } from 'vitest';
import { FOREIGN_RECORD_MAX_AGE_MS, PodLedger } from '../../../src/scheduler/kvedge/pod-ledger.ts';

function fields(
  requestId: string,
  endpointId: string,
  dispatchMs: number,
  waitMs = 0,
  uncachedTokens = 1000,
) {
  return {
    requestId,
    endpointId,
    dispatchMs,
    promptTokens: 2000,
    uncachedTokens,
    waitMs,
    steps: 1.5,
    interferenceSeconds: 0.002,
  };
}

describe('PodLedger', () => {
  it('expires mirrored records whose completion never came, and never its own', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('own', 'a', 0), 100);
    ledger.dispatch(fields('t2/lost', 'a', 0), 100, true, true);
    expect(ledger.book('a')!.outstanding).toBe(2);
    ledger.dispatch(
      fields('t2/next', 'b', FOREIGN_RECORD_MAX_AGE_MS - 1),
      FOREIGN_RECORD_MAX_AGE_MS,
      true,
      true,
    );
    expect(ledger.record('t2/lost')).toBeDefined();
    // The ledger looks for expired records at most once a second of dispatch time.
    ledger.dispatch(fields('own-2', 'b', FOREIGN_RECORD_MAX_AGE_MS + 1000), FOREIGN_RECORD_MAX_AGE_MS + 1100);
    expect(ledger.record('t2/lost')).toBeUndefined();
    expect(ledger.book('a')!.outstanding).toBe(1);
    expect(ledger.record('own')).toBeDefined();
    expect(ledger.record('t2/next')).toBeDefined();
  });

  it("pushes the pod's clock by each dispatch's predicted first token", () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('r1', 'a', 1000), 1100);
    ledger.dispatch(fields('r2', 'a', 1010, 90), 1300);
    const book = ledger.book('a')!;
    expect(book.busyUntilMs).toBe(1300);
    expect(book.outstanding).toBe(2);
    expect(book.pending.map((r) => r.requestId)).toEqual(['r1', 'r2']);
    expect(book.pendingTokens).toBe(2000);
    expect(book.promptTokens).toBe(4000);
  });

  it('keeps a buffered response (no first-token event will come) out of the pending floor', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('r1', 'a', 1000), 1100);
    ledger.firstToken('r1', 1100); // first-token events flow: pending requests are never presumed decoding
    ledger.dispatch(fields('buffered', 'a', 1200), 1300, false);
    const book = ledger.book('a')!;
    expect(book.busyUntilMs).toBe(1300);
    expect(book.outstanding).toBe(2);
    expect(book.pending).toEqual([]);
    expect(book.pendingUncached(0)).toBe(0);
    ledger.dispatch(fields('streamed', 'a', 1200), 1400);
    expect(book.pending.map((r) => r.requestId)).toEqual(['streamed']);
  });

  it('moves the queue by a first token’s error, and applies each correction once', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('r1', 'a', 1000), 1100);
    ledger.dispatch(fields('r2', 'a', 1010, 90), 1300);
    // r1 is 50 ms late: r2, queued behind it, moves by 50 ms too.
    const first = ledger.firstToken('r1', 1150)!;
    expect(first.ttftMs).toBe(150);
    expect(first.waitMs).toBe(0);
    const book = ledger.book('a')!;
    expect(book.busyUntilMs).toBe(1350);
    expect(book.predictedFirstTokenMs(book.pending[0]!)).toBe(1350);
    // r2 arrives 10 ms after its corrected prediction; its wait grew by r1's 50 ms.
    const second = ledger.firstToken('r2', 1360)!;
    expect(second.ttftMs).toBe(350);
    expect(second.waitMs).toBe(140);
    expect(book.shiftMs).toBe(60);
    // Nothing queued any more: the pod is free from the last first token on.
    expect(book.busyUntilMs).toBe(1360);
    expect(ledger.firstToken('r2', 1400)).toBeUndefined();
  });

  it('frees the pod when its last pending request completes without a first token', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('r1', 'a', 1000), 5000);
    ledger.complete('r1', 2000, true);
    const book = ledger.book('a')!;
    expect(book.busyUntilMs).toBe(2000);
    expect(book.outstanding).toBe(0);
    expect(book.pendingTokens).toBe(0);
    expect(book.errorTimesMs).toEqual([2000]);
  });

  it('presumes requests decoding a grace period after their predicted first token, without first-token events', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('r1', 'a', 0), 100);
    ledger.dispatch(fields('r2', 'a', 0), 200);
    ledger.dispatch(fields('r3', 'a', 0), 300);
    const book = ledger.book('a')!;
    expect(book.presumedDecoding(1150, ledger.presumeGraceMs)).toBe(1);
    expect(book.presumedDecoding(1250, ledger.presumeGraceMs)).toBe(2);
    expect(book.pendingUncached(2)).toBe(1000);
    // The next dispatch sweeps them out of the pending list (reads stay O(1)).
    ledger.dispatch(fields('r4', 'b', 1250), 1300);
    expect(book.pending.map((r) => r.requestId)).toEqual(['r3']);
    expect(book.pendingTokens).toBe(1000);
    expect(book.outstanding).toBe(3);
  });

  it('never presumes once first-token events arrive (a late first token is the signal)', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('r1', 'a', 0), 100);
    ledger.dispatch(fields('r2', 'a', 0), 200);
    ledger.firstToken('r1', 100);
    expect(ledger.presumeGraceMs).toBe(Number.POSITIVE_INFINITY);
    expect(ledger.book('a')!.presumedDecoding(60_000, ledger.presumeGraceMs)).toBe(0);
  });

  it('keeps a first token reconstructed at completion from switching presumption off', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('r1', 'a', 0), 100);
    ledger.firstToken('r1', 120, false);
    expect(ledger.presumeGraceMs).toBe(1000);
  });

  it('estimates the arrival rate from a decayed dispatch count (hand-computed)', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    // One dispatch per second from t = 0 to t = 10 s, time constant 10 s.
    for (let t = 0; t <= 10; t++) ledger.dispatch(fields(`r${t}`, 'a', t * 1000), t * 1000 + 50);
    const count = (1 - Math.exp(-1.1)) / (1 - Math.exp(-0.1)); // Σ e^(−k/10), k = 0..10
    const span = 10 * (1 - Math.exp(-1)); // τ·(1 − e^(−Δ/τ)), Δ = 10 s
    expect(ledger.book('a')!.arrivalRate(10_000, 10_000)).toBeCloseTo(count / span, 9);
    // A single dispatch counts over at least one second: not an infinite rate.
    const single = new PodLedger(1000, 10_000, 1000);
    single.dispatch(fields('x', 'b', 0), 10);
    expect(single.book('b')!.arrivalRate(0, 10_000)).toBeCloseTo(1 / (10 * (1 - Math.exp(-0.1))), 9);
  });

  it('tells whether another request was dispatched to the pod behind one before a given time', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    const first = ledger.dispatch(fields('r1', 'a', 0), 300);
    ledger.dispatch(fields('other-pod', 'b', 10), 300);
    const book = ledger.book('a')!;
    expect(book.dispatchedAfter(first.podSeq, 300)).toBe(false);
    // Same instant counts: the engine may put both in one step.
    const second = ledger.dispatch(fields('r2', 'a', 0), 600);
    expect(book.dispatchedAfter(first.podSeq, 300)).toBe(true);
    expect(book.dispatchedAfter(second.podSeq, 600)).toBe(false);
    ledger.dispatch(fields('r3', 'a', 700), 900);
    // r3 came after r2's first token (600): it cannot have shared r2's steps.
    expect(book.dispatchedAfter(second.podSeq, 600)).toBe(false);
    expect(book.dispatchedAfter(second.podSeq, 700)).toBe(true);
  });

  it('answers "maybe" (true) for a dispatch too far back to remember what followed it', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    const old = ledger.dispatch(fields('old', 'a', 0), 100);
    for (let i = 0; i < 40; i++) ledger.dispatch(fields(`later-${i}`, 'a', 10_000 + i), 10_100 + i);
    expect(ledger.book('a')!.dispatchedAfter(old.podSeq, 100)).toBe(true);
  });

  it('counts errors within the window ending at the last one', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.complete('unknown-1', 100, true, 'a');
    ledger.complete('unknown-2', 900, true, 'a');
    ledger.complete('unknown-3', 1500, true, 'a');
    const book = ledger.book('a')!;
    // The error at 100 ms fell out of the 1 s window when the one at 1500 ms arrived.
    expect(book.errorTimesMs).toEqual([900, 1500]);
    expect(book.recentErrors(1000)).toBe(2);
    expect(book.recentErrors(500)).toBe(1);
  });

  it('forgets pods that left the fleet, with their requests', () => {
    const ledger = new PodLedger(1000, 10_000, 1000);
    ledger.dispatch(fields('r1', 'a', 0), 100);
    ledger.dispatch(fields('r2', 'b', 0), 100);
    ledger.retain(new Set(['b']));
    expect(ledger.book('a')).toBeUndefined();
    expect(ledger.record('r1')).toBeUndefined();
    expect(ledger.record('r2')).toBeDefined();
  });
});
