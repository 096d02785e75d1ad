/** Tiny hand-built workloads for driver tests: the `tiny-test` engine (blocks of 4 tokens). */
import type { FleetShape, Stage, Workload, WorkloadRequest } from '../../bench/workloads/types.ts';

export const TINY_FLEET: FleetShape = { pods: 3, profile: 'tiny-test', blockSize: 4, numGpuBlocks: 64 };

const STAGE: Stage = { index: 0, name: 'test', rate: null, startS: 0, durationS: 1, warmup: false };

export function request(
  id: string,
  arrivalS: number,
  prompt: readonly number[],
  outputTokens = 4,
  extra: Partial<WorkloadRequest> = {},
): WorkloadRequest {
  return {
    id,
    arrivalS,
    stage: 0,
    prompt: () => [...prompt],
    promptLength: prompt.length,
    outputTokenIds: Array.from({ length: outputTokens }, (_, i) => 900 + i),
    ...extra,
  };
}

/** Consecutive token ids starting at `from`. */
export function tokens(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

export function tinyWorkload(
  requests: readonly WorkloadRequest[],
  overrides: Partial<Workload> = {},
): Workload {
  return {
    name: 'tiny',
    description: 'test workload',
    reference: 'test',
    parameters: {},
    stages: [STAGE],
    requests,
    fleetEvents: [],
    fleet: TINY_FLEET,
    notes: [],
    ...overrides,
  };
}
