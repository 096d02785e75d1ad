import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../src/sim/engine/virtual-clock.ts';

describe('VirtualClock', () => {
  it('fires timers in time order, ties in insertion order, advancing now() to each', () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(2, () => log.push(`b@${clock.now()}`));
    clock.setTimer(1, () => log.push(`a@${clock.now()}`));
    clock.setTimer(2, () => log.push(`c@${clock.now()}`));
    clock.setTimer(0, () => log.push(`z@${clock.now()}`));
    expect(clock.pending).toBe(4);
    expect(clock.runUntilIdle()).toBe(4);
    expect(log).toEqual(['z@0', 'a@1', 'b@2', 'c@2']);
    expect(clock.pending).toBe(0);
  });

  it('schedules relative to the time of the timer that schedules', () => {
    const clock = new VirtualClock(10);
    const times: number[] = [];
    clock.setTimer(1, () => clock.setTimer(0.5, () => times.push(clock.now())));
    clock.runUntilIdle();
    expect(times).toEqual([11.5]);
  });

  it('does not fire cancelled timers', () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const handle = clock.setTimer(1, () => log.push('cancelled'));
    clock.setTimer(2, () => log.push('kept'));
    handle.cancel();
    handle.cancel();
    expect(clock.pending).toBe(1);
    expect(clock.nextTime()).toBe(2);
    clock.runUntilIdle();
    expect(log).toEqual(['kept']);
  });

  it('runUntil fires what is due, including timers scheduled on the way, then sets now', () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    clock.setTimer(1, () => {
      log.push(1);
      clock.setTimer(0.5, () => log.push(1.5));
      clock.setTimer(5, () => log.push(6));
    });
    clock.setTimer(3, () => log.push(3));
    clock.runUntil(2);
    expect(log).toEqual([1, 1.5]);
    expect(clock.now()).toBe(2);
    clock.runUntil(4);
    expect(log).toEqual([1, 1.5, 3]);
    expect(clock.pending).toBe(1);
  });

  it('step() fires exactly one timer', () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    clock.setTimer(1, () => log.push(1));
    clock.setTimer(2, () => log.push(2));
    expect(clock.step()).toBe(true);
    expect(log).toEqual([1]);
    expect(clock.step()).toBe(true);
    expect(clock.step()).toBe(false);
  });

  it('clamps negative delays to now and rejects NaN', () => {
    const clock = new VirtualClock(5);
    let at = -1;
    clock.setTimer(-3, () => (at = clock.now()));
    clock.runUntilIdle();
    expect(at).toBe(5);
    expect(() => clock.setTimer(Number.NaN, () => {})).toThrow(RangeError);
  });

  it('runUntilIdle refuses to spin forever', () => {
    const clock = new VirtualClock();
    const tick = (): void => void clock.setTimer(1, tick);
    tick();
    expect(() => clock.runUntilIdle(100)).toThrow(/still busy/);
  });

  it('orders any set of timers by (time, insertion)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }),
        fc.array(fc.nat(199)),
        (delays, cancels) => {
          const clock = new VirtualClock();
          const fired: number[] = [];
          const handles = delays.map((d, i) => clock.setTimer(d, () => fired.push(i)));
          const cancelled = new Set(cancels.filter((c) => c < delays.length));
          for (const c of cancelled) handles[c]!.cancel();
          clock.runUntilIdle();
          const expected = delays
            .map((d, i) => ({ d, i }))
            .filter(({ i }) => !cancelled.has(i))
            .sort((x, y) => x.d - y.d || x.i - y.i)
            .map(({ i }) => i);
          expect(fired).toEqual(expected);
        },
      ),
    );
  });
});
