/**
 * Built-in EndpointPickerConfig files. `DEFAULT_CONFIG_YAML` mirrors llm-d's Helm
 * `default-plugins.yaml`, the "well-lit path" (llm-d-router.md §3.3): queue 2, KV-cache 2,
 * prefix 3, max-score picker and single-profile handler injected by the loader (§3.2).
 */

/** llm-d's default / well-lit-path config (§3.3). */
export const DEFAULT_CONFIG_YAML = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: prefix-cache-scorer
- type: metrics-data-source   # scheme http, path /metrics, insecureSkipVerify true
- type: core-metrics-extractor
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 2}
  - {pluginRef: prefix-cache-scorer, weight: 3}
`;

/**
 * llm-d's precise-prefix well-lit path (§3.5b): precise prefix 2, KV-cache 1, queue 1, decode
 * filter, max-score picker. The guide writes the block size as the deprecated
 * \`tokenProcessorConfig.blockSize: 64\`; it must match vLLM \`--block-size\`, as \`hashSeed\` must
 * match vLLM's PYTHONHASHSEED.
 */
export const PRECISE_CONFIG_YAML = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: decode-filter
- type: precise-prefix-cache-producer
  parameters:
    tokenProcessorConfig: {blockSizeTokens: 64, hashSeed: "42"}
    kvEventsConfig: {topicFilter: "kv@", concurrency: 4, discoverPods: false, zmqEndpoint: "tcp://*:5557"}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
- type: kv-cache-utilization-scorer
- type: queue-scorer
- type: max-score-picker
- type: single-profile-handler
- type: metrics-data-source
- type: core-metrics-extractor
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: decode-filter}
  - {pluginRef: prefix-cache-scorer, weight: 2}
  - {pluginRef: kv-cache-utilization-scorer, weight: 1}
  - {pluginRef: queue-scorer, weight: 1}
  - {pluginRef: max-score-picker}
`;

/** Baseline: round-robin over healthy endpoints. */
export const ROUND_ROBIN_CONFIG_YAML = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: round-robin-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: round-robin-picker}
`;

/** Baseline: uniformly random endpoint. */
export const RANDOM_CONFIG_YAML = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: random-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: random-picker}
`;

/** Baseline: shortest waiting queue (queue-scorer only). */
export const LEAST_LOAD_CONFIG_YAML = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: queue-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: queue-scorer}
  - {pluginRef: max-score-picker}
`;

/**
 * kvedge's own policy (docs/scheduling.md): `kvedge-picker` ranks endpoints by predicted TTFT in
 * seconds. Prefix information comes from the KV-event index (precise producer, with speculative
 * inserts so siblings of a just-routed prompt see it before the events land) when the router runs
 * one and the request has block keys, else from the approximate producer, which then alone hashes the
 * prompt (`fallbackFor`: hashing is most of a decision's cost). The precise block size
 * must match vLLM `--block-size` (and the router's `--index-block-size`), as in llm-d's guide.
 */
export const KVEDGE_CONFIG_YAML = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: decode-filter
- type: precise-prefix-cache-producer
  parameters:
    tokenProcessorConfig: {blockSizeTokens: 64, hashSeed: "42"}
    speculativeIndexing: true
    speculativeTTL: 2s
- type: approx-prefix-cache-producer
  parameters:
    fallbackFor: [precise-prefix-cache-producer]
- type: kvedge-picker
- type: single-profile-handler
- type: metrics-data-source
- type: core-metrics-extractor
schedulingProfiles:
- name: default
  plugins:
  - {pluginRef: decode-filter}
  - {pluginRef: kvedge-picker}
`;

/**
 * What a router without a config runs: kvedge's own picker (docs/scheduling.md has the tables that
 * made it the default). llm-d's well-lit path stays available as `llm-d-well-lit`.
 */
export const DEFAULT_POLICY = 'kvedge' satisfies NamedConfig;

/** Named configs selectable by the router and the benchmark. */
export const namedConfigs = {
  'llm-d-well-lit': DEFAULT_CONFIG_YAML,
  'llm-d-precise': PRECISE_CONFIG_YAML,
  'round-robin': ROUND_ROBIN_CONFIG_YAML,
  random: RANDOM_CONFIG_YAML,
  'least-load': LEAST_LOAD_CONFIG_YAML,
  kvedge: KVEDGE_CONFIG_YAML,
} as const satisfies Readonly<Record<string, string>>;

export type NamedConfig = keyof typeof namedConfigs;
