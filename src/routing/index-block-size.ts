/**
 * The KV-event index's key block size must be the one the precise producer converts matched
 * blocks with: a mismatch silently scales every cache-hit estimate (16-token keys counted as
 * 64-token blocks makes each hit look 4× larger). The engines' own `--block-size` may differ (the
 * ingestor maps engine blocks onto index keys when one size is a multiple of the other).
 */
import type { LoadedSchedulerConfig } from '../scheduler/config/loader.ts';
import { SchedulerConfigError } from '../scheduler/config/config-error.ts';

/** vLLM's default `--block-size`, used when neither the config nor the command line says. */
export const DEFAULT_INDEX_BLOCK_SIZE = 16;

/** `blockSizeTokens` of every precise producer in the config (empty when it has none). */
export function preciseBlockSizes(config: LoadedSchedulerConfig): number[] {
  const sizes = new Set<number>();
  for (const plugin of config.plugins.values()) {
    const size = (plugin as { blockSizeTokens?: unknown }).blockSizeTokens;
    if (plugin.type === 'precise-prefix-cache-producer' && typeof size === 'number') sizes.add(size);
  }
  return [...sizes];
}

/**
 * The index block size: `requested` when given (and then every precise producer must agree), else
 * the producers' `blockSizeTokens`, else vLLM's default.
 * @throws SchedulerConfigError when the sizes disagree.
 */
export function resolveIndexBlockSize(config: LoadedSchedulerConfig, requested?: number): number {
  const sizes = preciseBlockSizes(config);
  if (sizes.length > 1) {
    throw new SchedulerConfigError(
      `precise-prefix-cache-producer instances disagree on tokenProcessorConfig.blockSizeTokens (${sizes.join(', ')}); ` +
        'they must all equal the index block size',
    );
  }
  const configured = sizes[0];
  if (requested !== undefined && configured !== undefined && requested !== configured) {
    throw new SchedulerConfigError(
      `index block size ${requested} does not match the scheduler config's ` +
        `precise-prefix-cache-producer tokenProcessorConfig.blockSizeTokens ${configured}; ` +
        'set one to the other (or leave --index-block-size out to follow the config)',
    );
  }
  return requested ?? configured ?? DEFAULT_INDEX_BLOCK_SIZE;
}
