/** A routing policy under test: a named scheduler configuration, built fresh for every run. */
import type { LoadedSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import type { SchedulerStateFactory } from '../../src/scheduler/state.ts';

/** What a run provides to build a policy's scheduler. */
export interface PolicyContext {
  /** Stores for stateful plugins, including the KV-event block index (precise prefix routing). */
  readonly state: SchedulerStateFactory;
  /** Engine block size = precise index block size. */
  readonly blockSize: number;
  /** Blocks each pod reports cached through its KV events. */
  readonly cachedBlocks: (endpointId: string) => number;
}

export interface Policy {
  readonly name: string;
  /** One line for the report. */
  readonly summary: string;
  /** Where its definition comes from. */
  readonly reference: string;
  /**
   * When set, this slot runs exactly the named policy's configuration; the runner reuses that
   * run's results (same seed, same config: identical by determinism) instead of running it twice.
   */
  readonly aliasOf?: string;
  /** The EndpointPickerConfig it loads, for the record (YAML text). */
  configYaml(blockSize: number): string;
  build(context: PolicyContext): LoadedSchedulerConfig;
}
