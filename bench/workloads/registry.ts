/** Every workload `--workload` accepts, by name. */
import { churn } from './churn.ts';
import { inferencePerfFile } from './inference-perf-file.ts';
import { llmdSharedPrefix, llmdSharedPrefixHeterogeneous } from './llm-d-shared-prefix.ts';
import { mooncakeFile } from './mooncake-file.ts';
import { multiTurn } from './multi-turn.ts';
import { noReuse } from './no-reuse.ts';
import { sglangGsp } from './sglang-gsp.ts';
import { siblingBursts } from './sibling-bursts.ts';
import { singlePrefix } from './single-prefix.ts';
import type { WorkloadDefinition } from './types.ts';

export const WORKLOADS: readonly WorkloadDefinition[] = [
  llmdSharedPrefix,
  llmdSharedPrefixHeterogeneous,
  sglangGsp,
  multiTurn,
  singlePrefix,
  noReuse,
  siblingBursts,
  churn,
  inferencePerfFile,
  mooncakeFile,
];

export function workloadByName(name: string): WorkloadDefinition {
  const found = WORKLOADS.find((w) => w.name === name);
  if (!found)
    throw new Error(`unknown workload '${name}'; known: ${WORKLOADS.map((w) => w.name).join(', ')}`);
  return found;
}
