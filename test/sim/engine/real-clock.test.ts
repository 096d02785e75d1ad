import { describe, expect, it } from 'vitest';
import { RealClock } from '../../../src/sim/engine/real-clock.ts';

describe('RealClock', () => {
  it('scales engine time by the speed factor', async () => {
    const clock = new RealClock({ speed: 1000 });
    const firedAt = await new Promise<number>((resolve) => clock.setTimer(2, () => resolve(clock.now())));
    // 2 engine seconds at 1000x is 2 ms of wall time; the timer cannot fire early.
    expect(firedAt).toBeGreaterThanOrEqual(2);
  });

  it('fires zero-delay timers and honours cancel', async () => {
    const clock = new RealClock({ speed: 1000 });
    const log: string[] = [];
    clock.setTimer(0, () => log.push('zero')).cancel();
    clock.setTimer(0.5, () => log.push('cancelled')).cancel();
    await new Promise<void>((resolve) => clock.setTimer(1, () => resolve()));
    await new Promise<void>((resolve) => clock.setTimer(0, () => resolve()));
    expect(log).toEqual([]);
  });

  it('takes the speed factor alone and rejects a non-positive one', () => {
    expect(new RealClock(50).speed).toBe(50);
    expect(() => new RealClock({ speed: 0 })).toThrow(RangeError);
    expect(() => new RealClock(-1)).toThrow(RangeError);
  });
});
