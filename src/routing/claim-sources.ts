/**
 * What a router can claim placements with (placement-agreement.ts), from its scheduler config:
 * each precise prefix producer's block keys, when the router has a block index to hold them in,
 * and each approximate prefix producer's prompt hashes, so a router without the model's tokenizer
 * (or without KV events) still agrees with its threads and replicas on where a new prompt goes.
 * Precise sources come first: with both, a request with block keys uses them.
 */
import type { LoadedSchedulerConfig } from '../scheduler/config/loader.ts';
import {
  type ApproxPrefixData,
  ApproxPrefixCacheProducer,
} from '../scheduler/producers/approx-prefix-cache-producer.ts';
import { PRECISE_PREFIX_CACHE_PRODUCER_TYPE } from '../scheduler/producers/precise-prefix-cache-producer.ts';
import type { ClaimSource } from './placement-agreement.ts';

/**
 * @param holdBlocks makes a pod hold block keys in this router's index view; without it (no
 *   index), precise producers are not claimed with
 */
export function claimSources(
  config: LoadedSchedulerConfig,
  holdBlocks?: (endpointId: string, keys: readonly bigint[], ttlMs: number) => void,
): ClaimSource[] {
  const precise: ClaimSource[] = [];
  const approximate: ClaimSource[] = [];
  for (const plugin of config.plugins.values()) {
    if (plugin.type === PRECISE_PREFIX_CACHE_PRODUCER_TYPE && holdBlocks) {
      precise.push({
        producer: plugin.name,
        // Unscoped: block keys already name the model's token ids and block size.
        scope: () => '',
        keys: (request) => request.blockKeys ?? null,
        hold: (endpointId, keys, ttlMs) => holdBlocks(endpointId, keys, ttlMs),
      });
    } else if (plugin instanceof ApproxPrefixCacheProducer) {
      const producer = plugin;
      approximate.push({
        producer: producer.name,
        // Hashes depend on the producer and its block size (auto-tuned from the pods' metrics, so
        // replicas may briefly differ): both are in the scope, and differing claims never meet.
        scope: (data) => `#${producer.name}@${data.blockSizeTokens}`,
        keys: (_request, data) => (data as ApproxPrefixData).hashes,
        // Not a speculative hold: the claimant did send the prompt there, as its own record will say.
        hold: (endpointId, keys, _ttlMs, data) =>
          producer.recordPlacement(endpointId, keys, data as ApproxPrefixData),
      });
    }
  }
  return [...precise, ...approximate];
}
