/**
 * The policies `npm run bench` compares, each an EndpointPickerConfig run by the real scheduler:
 *
 * | name | what | reference |
 * |---|---|---|
 * | round-robin, random | baselines | kvedge named configs |
 * | least-load | shortest waiting queue (queue-scorer) | kvedge named config |
 * | llm-d-well-lit | approximate prefix 3 + KV-util 2 + queue 2 | llm-d-router.md §3.3 |
 * | llm-d-precise | KV-event prefix 2 + KV-util 1 + queue 1, speculative index on | §3.5b |
 * | sglang-cache-aware | SMG cache_aware, CLI defaults | peer-routers.md §1.2 |
 * | dynamo-kv | Dynamo KV cost, defaults | peer-routers.md §2.2 |
 * | kvedge | kvedge's own policy, the named config `kvedge` | docs/scheduling.md |
 *
 * llm-d-precise enables the producer's `speculativeIndexing` (TTL 2 s): kvedge's router records a
 * routed prompt's blocks at dispatch so siblings see them before the KV events land, and this is the
 * precise path every kvedge claim is about. llm-d's guide leaves the option at its default (off).
 */
import { parse, stringify } from 'yaml';
import { loadNamedConfig, loadSchedulerConfig } from '../../src/scheduler/config/loader.ts';
import { createBuiltinRegistry } from '../../src/scheduler/config/builtin-plugins.ts';
import { namedConfigs, PRECISE_CONFIG_YAML, type NamedConfig } from '../../src/scheduler/config/defaults.ts';
import { registerPeerPlugins } from '../../src/scheduler/peers/register.ts';
import type { Policy, PolicyContext } from './policy.ts';

function named(name: NamedConfig, summary: string, reference: string): Policy {
  return {
    name,
    summary,
    reference,
    configYaml: () => namedConfigs[name],
    build: ({ state }) => loadNamedConfig(name, { state }),
  };
}

interface PluginSpec {
  type: string;
  parameters?: Record<string, unknown>;
}

/** A config whose precise producers hash at the engine's block size (vLLM `--block-size`). */
function withEngineBlockSize(yaml: string, blockSize: number): { plugins: PluginSpec[] } {
  const config = parse(yaml) as { plugins: PluginSpec[] };
  for (const plugin of config.plugins) {
    if (plugin.type !== 'precise-prefix-cache-producer') continue;
    const params = (plugin.parameters ??= {});
    params['tokenProcessorConfig'] = {
      ...(params['tokenProcessorConfig'] as object | undefined),
      blockSizeTokens: blockSize,
    };
  }
  return config;
}

/** §3.5b's config with the block size set to the engine's and speculative indexing on. */
function preciseConfig(blockSize: number): object {
  const config = withEngineBlockSize(PRECISE_CONFIG_YAML, blockSize);
  for (const plugin of config.plugins) {
    if (plugin.type !== 'precise-prefix-cache-producer') continue;
    const params = (plugin.parameters ??= {});
    params['speculativeIndexing'] = true;
    params['speculativeTTL'] = '2s';
  }
  return config;
}

function peerConfig(plugins: PluginSpec[], picker: string): object {
  return {
    apiVersion: 'llm-d.ai/v1alpha1',
    kind: 'EndpointPickerConfig',
    plugins,
    schedulingProfiles: [{ name: 'default', plugins: [{ pluginRef: picker }] }],
  };
}

function sglangConfig(): object {
  return peerConfig(
    [
      {
        type: 'sglang-cache-aware-picker',
        parameters: {
          cacheThreshold: 0.3,
          balanceAbsThreshold: 64,
          balanceRelThreshold: 1.5,
          evictionIntervalSeconds: 120,
          maxTreeSize: 2 ** 26,
        },
      },
    ],
    'sglang-cache-aware-picker',
  );
}

function dynamoConfig(blockSize: number): object {
  return peerConfig(
    [
      {
        type: 'precise-prefix-cache-producer',
        parameters: { tokenProcessorConfig: { blockSizeTokens: blockSize } },
      },
      {
        type: 'dynamo-kv-cost-picker',
        parameters: {
          overlapScoreCredit: 1,
          overlapScoreCreditDecay: 0,
          prefillLoadScale: 1,
          temperature: 0,
          prefixMatchInfoProducerName: 'precise-prefix-cache-producer',
          blockSizeTokens: blockSize,
        },
      },
    ],
    'dynamo-kv-cost-picker',
  );
}

/** kvedge's own policy: the scheduler's named config `kvedge`, at the engine's block size. */
function kvedgePolicy(): Policy {
  const own = namedConfigs.kvedge;
  return {
    name: 'kvedge',
    summary: "kvedge's own policy (named config `kvedge`)",
    reference: 'src/scheduler/config/defaults.ts',
    configYaml: (blockSize) => stringify(withEngineBlockSize(own, blockSize)),
    build: ({ state, blockSize }) => loadSchedulerConfig(withEngineBlockSize(own, blockSize), { state }),
  };
}

function peerRegistry(context: PolicyContext) {
  return registerPeerPlugins(createBuiltinRegistry(), { dynamo: { cachedBlocks: context.cachedBlocks } });
}

export const POLICIES: readonly Policy[] = [
  named('round-robin', 'round robin over healthy pods', 'baseline'),
  named('random', 'uniformly random pod', 'baseline'),
  named('least-load', 'shortest waiting queue (queue-scorer)', 'baseline'),
  named('llm-d-well-lit', 'llm-d approximate prefix 3 + kv-util 2 + queue 2', 'llm-d-router.md §3.3'),
  {
    name: 'llm-d-precise',
    summary: 'llm-d precise prefix (KV events) 2 + kv-util 1 + queue 1, speculative index 2 s',
    reference: 'llm-d-router.md §3.5b',
    configYaml: (blockSize) => stringify(preciseConfig(blockSize)),
    build: ({ state, blockSize }) => loadSchedulerConfig(preciseConfig(blockSize), { state }),
  },
  {
    name: 'sglang-cache-aware',
    summary: 'SGLang cache_aware: threshold 0.3, balance abs 64 / rel 1.5, token tree',
    reference: 'peer-routers.md §1.2',
    configYaml: () => stringify(sglangConfig()),
    build: (context) =>
      loadSchedulerConfig(sglangConfig(), { state: context.state, registry: peerRegistry(context) }),
  },
  {
    name: 'dynamo-kv',
    summary: 'Dynamo KV cost: credit 1.0, prefill scale 1, T=0, overlap from KV events',
    reference: 'peer-routers.md §2.2',
    configYaml: (blockSize) => stringify(dynamoConfig(blockSize)),
    build: (context) =>
      loadSchedulerConfig(dynamoConfig(context.blockSize), {
        state: context.state,
        registry: peerRegistry(context),
      }),
  },
  kvedgePolicy(),
];

export const DEFAULT_POLICY_NAMES = POLICIES.map((p) => p.name);

export function policyByName(name: string): Policy {
  const found = POLICIES.find((p) => p.name === name);
  if (!found) throw new Error(`unknown policy '${name}'; known: ${DEFAULT_POLICY_NAMES.join(', ')}`);
  return found;
}
