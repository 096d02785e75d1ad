/**
 * Public API of kvedge's scheduling core. See `types.ts` for the plugin contracts,
 * `config/loader.ts` for loading llm-d EndpointPickerConfig files, and `admission/` for
 * saturation-based shedding.
 */
export type * from './types.ts';
export { SchedulingError } from './types.ts';
export type * from './trace.ts';
export { Scheduler, type SchedulerSpec } from './scheduler.ts';
export { createRandom, SeededRandom, type Random } from './prng.ts';
export { chatPromptText } from './prompt-text.ts';
export {
  DEFAULT_PREFIX_PRODUCER_NAME,
  prefixMatchFor,
  type PrefixCacheMatchInfo,
  type PrefixMatchData,
} from './prefix-cache-match-info.ts';
export { createInMemoryState, type InMemoryStateOptions, type SchedulerStateFactory } from './state.ts';
export type { PrefixIndexStore } from './producers/prefix-index-store.ts';
export { InMemoryPrefixIndexStore } from './producers/in-memory-prefix-index-store.ts';
export type { BlockIndexReader, SpeculativeBlockIndexWriter } from './producers/block-index-reader.ts';
export { promptBlockHashes } from './producers/prompt-block-hashes.ts';
export type { NoHitLruStore } from './scorers/no-hit-lru-store.ts';
export type { SessionAffinityStore } from './scorers/session-affinity-store.ts';
export type { RoundRobinCursor } from './pickers/round-robin-cursor.ts';
export {
  definePlugin,
  type PluginDefinition,
  type PluginKind,
  type PluginStability,
} from './plugin-definition.ts';
export {
  loadNamedConfig,
  loadSchedulerConfig,
  type ExternalPluginConfig,
  type LoadedSchedulerConfig,
  type LoadOptions,
} from './config/loader.ts';
export { DEFAULT_CONFIG_YAML, namedConfigs, type NamedConfig } from './config/defaults.ts';
export { SchedulerConfigError } from './config/config-error.ts';
export { createBuiltinRegistry } from './config/builtin-plugins.ts';
export { PluginRegistry, type ExternalPluginType } from './config/registry.ts';
export { AdmissionController, SHED_MESSAGE, type AdmissionResult } from './admission/admission-controller.ts';
export type { SaturationDetector } from './admission/saturation-detector.ts';
export { UtilizationDetector, type UtilizationDetectorParameters } from './admission/utilization-detector.ts';
export {
  InferenceObjectiveResolver,
  parseInferenceObjectives,
  OBJECTIVE_HEADER,
  LEGACY_OBJECTIVE_HEADER,
  type InferenceObjective,
} from './admission/inference-objectives.ts';
