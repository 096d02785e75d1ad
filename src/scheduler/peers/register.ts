/**
 * Adds the peer routers' policies (peer-routers.md §1.2 SGLang `cache_aware`, §2.2 Dynamo KV cost)
 * to a plugin registry, so an EndpointPickerConfig can name them like any llm-d plugin.
 */
import type { PluginRegistry } from '../config/registry.ts';
import { type DynamoKvCostDeps, dynamoKvCostPickerDefinition } from './dynamo-kv-cost.ts';
import { sglangCacheAwarePickerPlugin } from './sglang-cache-aware.ts';

export interface PeerPluginDeps {
  readonly dynamo?: DynamoKvCostDeps;
}

export function registerPeerPlugins(registry: PluginRegistry, deps: PeerPluginDeps = {}): PluginRegistry {
  return registry.register(sglangCacheAwarePickerPlugin).register(dynamoKvCostPickerDefinition(deps.dynamo));
}
