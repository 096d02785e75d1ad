/**
 * The registry of every plugin type kvedge's scheduler implements, plus the external types it
 * accepts. Adding a plugin = one file exporting a definition + one line here.
 */
import { utilizationDetectorPlugin } from '../admission/utilization-detector.ts';
import { byLabelFilterPlugin } from '../filters/by-label-filter.ts';
import { decodeFilterPlugin } from '../filters/decode-filter.ts';
import { encodeFilterPlugin } from '../filters/encode-filter.ts';
import { byLabelSelectorFilterPlugin, labelSelectorFilterPlugin } from '../filters/label-selector-filter.ts';
import { prefillFilterPlugin } from '../filters/prefill-filter.ts';
import { sessionAffinityFilterPlugin } from '../filters/session-affinity-filter.ts';
import { kvedgePickerPlugin } from '../kvedge/kvedge-picker.ts';
import { maxScorePickerPlugin } from '../pickers/max-score-picker.ts';
import { randomPickerPlugin } from '../pickers/random-picker.ts';
import { roundRobinPickerPlugin } from '../pickers/round-robin-picker.ts';
import { weightedRandomPickerPlugin } from '../pickers/weighted-random-picker.ts';
import { approxPrefixCacheProducerPlugin } from '../producers/approx-prefix-cache-producer.ts';
import { precisePrefixCacheProducerPlugin } from '../producers/precise-prefix-cache-producer.ts';
import { alwaysDisaggPdDeciderPlugin } from '../profile-handlers/always-disagg-pd-decider.ts';
import { disaggProfileHandlerPlugin } from '../profile-handlers/disagg-profile-handler.ts';
import { pdProfileHandlerPlugin } from '../profile-handlers/pd-profile-handler.ts';
import { prefixBasedPdDeciderPlugin } from '../profile-handlers/prefix-based-pd-decider.ts';
import { singleProfileHandlerPlugin } from '../profile-handlers/single-profile-handler.ts';
import { activeRequestScorerPlugin } from '../scorers/active-request-scorer.ts';
import { kvCacheUtilizationScorerPlugin } from '../scorers/kv-cache-utilization-scorer.ts';
import { loadAwareScorerPlugin } from '../scorers/load-aware-scorer.ts';
import { loraAffinityScorerPlugin } from '../scorers/lora-affinity-scorer.ts';
import { noHitLruScorerPlugin } from '../scorers/no-hit-lru-scorer.ts';
import { prefixCacheScorerPlugin } from '../scorers/prefix-cache-scorer.ts';
import { queueScorerPlugin } from '../scorers/queue-scorer.ts';
import { runningRequestsSizeScorerPlugin } from '../scorers/running-requests-size-scorer.ts';
import { sessionAffinityScorerPlugin } from '../scorers/session-affinity-scorer.ts';
import { tokenLoadScorerPlugin } from '../scorers/token-load-scorer.ts';
import { EXTERNAL_PLUGIN_TYPES } from './external-plugins.ts';
import { PluginRegistry } from './registry.ts';

/** A fresh registry with every built-in and external plugin type. */
export function createBuiltinRegistry(): PluginRegistry {
  const registry = new PluginRegistry()
    // filters
    .register(decodeFilterPlugin)
    .register(prefillFilterPlugin)
    .register(encodeFilterPlugin)
    .register(labelSelectorFilterPlugin)
    .register(byLabelSelectorFilterPlugin)
    .register(byLabelFilterPlugin)
    .register(sessionAffinityFilterPlugin)
    .register(utilizationDetectorPlugin)
    // scorers
    .register(queueScorerPlugin)
    .register(kvCacheUtilizationScorerPlugin)
    .register(runningRequestsSizeScorerPlugin)
    .register(loadAwareScorerPlugin)
    .register(activeRequestScorerPlugin)
    .register(tokenLoadScorerPlugin)
    .register(noHitLruScorerPlugin)
    .register(loraAffinityScorerPlugin)
    .register(sessionAffinityScorerPlugin)
    .register(prefixCacheScorerPlugin)
    // pickers
    .register(maxScorePickerPlugin)
    .register(randomPickerPlugin)
    .register(weightedRandomPickerPlugin)
    .register(roundRobinPickerPlugin)
    .register(kvedgePickerPlugin)
    // producers
    .register(approxPrefixCacheProducerPlugin)
    .register(precisePrefixCacheProducerPlugin)
    // profile handlers and deciders
    .register(singleProfileHandlerPlugin)
    .register(disaggProfileHandlerPlugin)
    .register(pdProfileHandlerPlugin)
    .register(prefixBasedPdDeciderPlugin)
    .register(alwaysDisaggPdDeciderPlugin);
  for (const external of EXTERNAL_PLUGIN_TYPES) registry.registerExternal(external);
  return registry;
}
