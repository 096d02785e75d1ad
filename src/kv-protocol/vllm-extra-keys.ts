/**
 * Per-block extra hash keys as vLLM's `generate_block_hash_extra_keys` builds them (shared reference
 * `kv-events-and-hashing.md` §3.4): `lora + mm + cache_salt + prompt_embeds`, `null` when empty.
 *
 * - LoRA: the adapter name on every block of a LoRA request.
 * - Multimodal: each item overlapping the block, in placeholder-offset order, as
 *   `(identifier, offset - blockStart)` (current vLLM, negative when the item began in an earlier
 *   block) or as the bare identifier (older vLLM).
 * - cache salt: only on the block starting at token 0, and only when non-empty (vLLM tests
 *   truthiness).
 * - prompt embeds: a caller-supplied per-block digest (vLLM hashes the raw tensor slice).
 */
import type { BlockExtraKeys, ExtraKey } from './events.ts';
import type { ExtraKeysForBlock } from './vllm-block-hash.ts';

/** A multimodal item's placeholder span in the prompt and its identifier (mm hash or user UUID). */
export interface MultiModalPlaceholder {
  readonly identifier: string;
  readonly offset: number;
  readonly length: number;
}

export interface VllmExtraKeysOptions {
  readonly loraName?: string | null;
  readonly cacheSalt?: string | null;
  readonly multiModal?: readonly MultiModalPlaceholder[];
  /** `tuple` = `(identifier, offset)` (vLLM #36708 and later, default); `bare` = identifier only. */
  readonly multiModalKeyStyle?: 'tuple' | 'bare';
  /** Digest of the prompt embeddings of the block `[start, end)`, if the request has any. */
  readonly promptEmbedsDigest?: (start: number, end: number) => Uint8Array;
}

/**
 * Builds the `extraKeysForBlock` callback for `hashPrompt`. Returns `undefined` when no extra key can
 * ever apply, so callers skip the per-block call altogether.
 */
export function createVllmExtraKeys(options: VllmExtraKeysOptions): ExtraKeysForBlock | undefined {
  const lora = options.loraName ?? null;
  const salt = options.cacheSalt ? options.cacheSalt : null;
  const mm = [...(options.multiModal ?? [])].sort((a, b) => a.offset - b.offset);
  const bare = options.multiModalKeyStyle === 'bare';
  const embeds = options.promptEmbedsDigest;
  if (lora === null && salt === null && mm.length === 0 && embeds === undefined) return undefined;

  return (_blockIndex: number, start: number, end: number): BlockExtraKeys => {
    const keys: ExtraKey[] = [];
    if (lora !== null) keys.push(lora);
    for (const item of mm) {
      if (item.offset >= end) break;
      if (start >= item.offset + item.length) continue;
      keys.push(bare ? item.identifier : [item.identifier, item.offset - start]);
    }
    if (salt !== null && start === 0) keys.push(salt);
    if (embeds) keys.push(embeds(start, end));
    return keys.length === 0 ? null : keys;
  };
}
