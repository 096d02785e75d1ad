/** Stage layout and arrival processes (inference-perf `load.type: poisson | constant`). */
import type { Random } from '../../src/scheduler/prng.ts';
import type { LoadStage, Stage } from './types.ts';

/** Lays stages end to end from t = 0 and names them (`warm-up`, `3.0/s`, …). */
export function layoutStages(stages: readonly LoadStage[]): Stage[] {
  let start = 0;
  return stages.map((stage, index) => {
    const laid: Stage = {
      index,
      name: stage.warmup ? 'warm-up' : `${formatRate(stage.rate)}/s`,
      rate: stage.rate,
      startS: start,
      durationS: stage.durationS,
      warmup: stage.warmup ?? false,
    };
    start += stage.durationS;
    return laid;
  });
}

export interface Arrival {
  readonly timeS: number;
  readonly stage: number;
}

/** Poisson arrivals: exponential gaps at each stage's rate, restarted at each stage boundary. */
export function poissonArrivals(stages: readonly Stage[], random: Random): Arrival[] {
  const out: Arrival[] = [];
  for (const stage of stages) {
    if (stage.rate === null || stage.rate <= 0) continue;
    const end = stage.startS + stage.durationS;
    let t = stage.startS;
    for (;;) {
      t += -Math.log(1 - random.next()) / stage.rate;
      if (t >= end) break;
      out.push({ timeS: t, stage: stage.index });
    }
  }
  return out;
}

/** Evenly spaced arrivals at each stage's rate. */
export function constantArrivals(stages: readonly Stage[]): Arrival[] {
  const out: Arrival[] = [];
  for (const stage of stages) {
    if (stage.rate === null || stage.rate <= 0) continue;
    const count = Math.floor(stage.rate * stage.durationS);
    for (let i = 0; i < count; i++) out.push({ timeS: stage.startS + i / stage.rate, stage: stage.index });
  }
  return out;
}

function formatRate(rate: number): string {
  return Number.isInteger(rate) ? String(rate) : rate.toFixed(1);
}
