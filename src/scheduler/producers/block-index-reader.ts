/**
 * Read side of the precise KV-block index (fed by vLLM KV events; built in `src/index-store/`).
 * `precise-prefix-cache-producer` only needs this lookup (llm-d's `LongestPrefixScorer`,
 * llm-d-router.md §2.8).
 */
export interface BlockIndexReader {
  /**
   * For each of `endpointIds`, the consecutive run of `blockKeys` from block 0 that the endpoint
   * holds, weighted per device tier (llm-d: GPU 1.0, CPU 0.8). Endpoints holding none may be absent.
   */
  longestPrefix(blockKeys: readonly bigint[], endpointIds: readonly string[]): Map<string, number>;
}

/**
 * Optional write side for llm-d's `speculativeIndexing`: at dispatch, insert the request's blocks
 * for the chosen endpoint with a short TTL so sibling requests see them before KV events arrive.
 */
export interface SpeculativeBlockIndexWriter {
  insertSpeculative(endpointId: string, blockKeys: readonly bigint[], nowMs: number, ttlMs: number): void;
}
