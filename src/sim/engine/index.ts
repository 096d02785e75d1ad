/** The simulated vLLM engine: public entry point of `src/sim/engine/`. */
export type * from './types.ts';
export type { Clock, TimerHandle } from './clock.ts';
export { VirtualClock } from './virtual-clock.ts';
export { RealClock, type RealClockOptions } from './real-clock.ts';
export { SimEngine, createEngine, type EngineInternals } from './engine.ts';
export { stepSeconds } from './step-time.ts';
export {
  ENGINE_PROFILES,
  LLAMA_31_8B_H100,
  PROFILE_NAMES,
  QWEN25_32B_H100_TP2,
  TINY_TEST,
  engineConfigFor,
  getEngineProfile,
  getTimingProfile,
  listTimingProfiles,
  type EngineProfile,
  type ProfileName,
} from './timing-profiles.ts';
