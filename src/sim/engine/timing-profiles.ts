/**
 * Named hardware/model profiles for the simulated engine: the step-time coefficients and the
 * KV-cache size a real vLLM would report on that hardware.
 *
 * Step time (see `step-time.ts`): `a + b*prefillTokens + c*decodeSeqs + d*contextTokens`.
 *
 * How the coefficients are derived (a roofline model, per forward pass):
 * - `a`: decode is memory-bound, so every step streams all weights from HBM once:
 *   weight bytes / (HBM bandwidth x ~0.85 achievable), plus ~1 ms of launch, sampling and
 *   scheduler overhead (and tensor-parallel all-reduces where TP > 1).
 * - `b`: prefill is compute-bound: 2 x params FLOP per token for the GEMMs plus attention
 *   (4 x layers x hidden x context FLOP per token, ~10% at a few thousand tokens of context),
 *   at ~50% of the dense bf16 peak (989 TFLOPS per H100 SXM). Quadratic attention is folded
 *   into `b` at a typical context; `d` only carries the KV *read* of decodes.
 * - `c`: the marginal cost of one more decoding sequence: sampling over the vocabulary and
 *   per-sequence CPU bookkeeping; its GEMM FLOPs mostly hide under the weight stream of `a`.
 * - `d`: each sequence reads its whole KV context every step: KV bytes per token (per GPU) /
 *   (HBM bandwidth x 0.85).
 * - `kvTransferPerToken`: P/D KV pull over one 400 Gb/s RDMA NIC per GPU (~50 GB/s):
 *   KV bytes per token per GPU / 50 GB/s; llm-d-inference-sim's H100 profile uses 3 µs/token.
 *
 * Why `b` is ~7x below llm-d-inference-sim's 250 µs/prompt-token "8B on H100" profile: that
 * simulator has no batching, so its per-token cost has to absorb queueing and interference.
 * Here interference is explicit (prefill chunks and decodes share each step's time), so `b` is
 * the bare compute cost, which the FLOP count bounds at ~16-18 GFLOP/token for an 8B model.
 *
 * KV capacity (vLLM's "GPU KV cache size" line): gpu_memory_utilization 0.9 x visible memory,
 * minus weights, minus ~3 GiB of activation peak / CUDA graphs / non-torch allocations, divided
 * by KV bytes per token per GPU. The same arithmetic reproduces the 542,960 tokens that a
 * third-party table of measured vLLM capacities (found in a public repository) gives for
 * Llama-3.1-8B on an H100 NVL (0.9 x 93.58 GiB - 14.99 GiB - 3 GiB = 66.2 GiB / 128 KiB = 542.6k),
 * and the 307,328 tokens per TP2 instance that llm-d reports for its Qwen3-32B benchmark
 * deployment (same KV shape as Qwen2.5-32B; shared reference peer-routers.md §8).
 *
 * Scheduler defaults are vLLM's for `vllm serve` on GPUs with >= 70 GiB (H100):
 * max_num_batched_tokens 8192, max_num_seqs 1024 (`EngineArgs.get_batch_defaults`); block size
 * 16; prefix caching on; hash algorithm `sha256` (the default since v0.10.2).
 */
import type { EngineConfig, TimingProfile } from './types.ts';

/**
 * Llama-3.1-8B-Instruct, bf16, 1x H100 SXM 80 GB (3.35 TB/s HBM3, 989 TFLOPS dense bf16).
 * 32 layers, hidden 4096, 8 KV heads x 128, 8.03B params.
 * - a = 16.06 GB / (3.35 TB/s x 0.85) = 5.6 ms + ~0.9 ms overhead = 6.5 ms, so a single
 *   stream decodes at ~150 tok/s (an estimate from the roofline, not a measurement).
 * - b = ~18 GFLOP/token / (989 TFLOPS x 0.5) = 36 µs: a cold 6,000-token prompt is ~0.22 s.
 * - c = 20 µs per decoding sequence (256 decodes add ~5 ms).
 * - d = 128 KiB / (3.35 TB/s x 0.85) = 46 ns per context token (256 x 1k context adds ~12 ms).
 * - kvTransferPerToken = 128 KiB / 50 GB/s = 2.6 µs, rounded to llm-d's 3 µs.
 */
export const LLAMA_31_8B_H100: TimingProfile = {
  name: 'llama-3.1-8b-h100',
  description: 'Llama-3.1-8B-Instruct bf16 on 1x H100 SXM 80GB (roofline-calibrated)',
  a: 6.5e-3,
  b: 36e-6,
  c: 20e-6,
  d: 46e-9,
  kvTransferPerToken: 3e-6,
  // 0.9 x 79.65 GiB = 71.69 GiB - 14.99 GiB weights - ~3 GiB = 53.7 GiB; / 128 KiB = 440k tokens.
  kvCacheTokens: 440_000,
};

/**
 * Qwen2.5-32B-Instruct, bf16, 2x H100 SXM 80 GB, tensor parallel 2 over NVLink.
 * 64 layers, hidden 5120, 8 KV heads x 128 (4 per rank), 32.76B params.
 * - a = 32.76 GB per GPU / (3.35 TB/s x 0.85) = 11.5 ms + 128 all-reduces x ~15 µs = 1.9 ms
 *   + ~1.1 ms overhead = 14.5 ms (a single stream at ~67 tok/s).
 * - b = (65.5 + ~5) GFLOP/token / (2 x 989 TFLOPS x 0.5) = 72 µs.
 * - c = 30 µs; d = 128 KiB per token per rank / (3.35 TB/s x 0.85) = 46 ns.
 * - kvTransferPerToken: each rank pulls its 128 KiB half over its own NIC: 2.6 µs -> 3 µs.
 * Cross-check against llm-d's published W1 run (8 x TP2 Qwen3-32B, 6,000-token shared prefix +
 * 1,200-token question, cache-aware routing): a request hitting its prefix computes ~1,200 tokens
 * in a step shared with ~100 decodes of ~7.5k context: 14.5 + 3 + 34.5 + 86 = 138 ms, plus
 * ~25 ms waiting for the step in flight = ~0.16 s TTFT (published mean 0.156 s). A decode-only step
 * at that load is 52 ms (published ITL mean 47 ms); steps carrying prefill chunks are slower, so
 * expect the model's mean ITL to run above the published one at that load (the `d` term, which
 * assumes every sequence streams its whole context each step, is the likely overestimate).
 */
export const QWEN25_32B_H100_TP2: TimingProfile = {
  name: 'qwen2.5-32b-h100-tp2',
  description: 'Qwen2.5-32B-Instruct bf16 on 2x H100 SXM 80GB, TP=2 (roofline-calibrated)',
  a: 14.5e-3,
  b: 72e-6,
  c: 30e-6,
  d: 46e-9,
  kvTransferPerToken: 3e-6,
  // Per rank: 71.69 GiB - 30.51 GiB weights - ~3.5 GiB (incl. all-reduce buffers) = 37.7 GiB;
  // / 128 KiB = 308.6k tokens. We use llm-d's measured 307,328 (4,802 blocks of 64, W1's setting).
  kvCacheTokens: 307_328,
};

/** Round numbers for unit tests: 10 ms per step, 1 ms per prefill token or decoding sequence. */
export const TINY_TEST: TimingProfile = {
  name: 'tiny-test',
  description: 'Fast, round-number profile for unit tests (not calibrated)',
  a: 0.01,
  b: 0.001,
  c: 0.001,
  d: 0.00001,
  kvTransferPerToken: 0.0001,
  // 64 blocks of 4 tokens.
  kvCacheTokens: 256,
};

/** A timing profile plus the engine defaults that go with that hardware. */
export interface EngineProfile {
  readonly timing: TimingProfile;
  /** Served model name. */
  readonly model: string;
  readonly blockSize: number;
  readonly maxNumSeqs: number;
  readonly maxNumBatchedTokens: number;
  readonly maxModelLen: number;
}

export const ENGINE_PROFILES = {
  /** vLLM's H100 serving defaults; 440,000 KV tokens = 27,500 blocks of 16. */
  'llama-3.1-8b-h100': {
    timing: LLAMA_31_8B_H100,
    model: 'meta-llama/Llama-3.1-8B-Instruct',
    blockSize: 16,
    maxNumSeqs: 1024,
    maxNumBatchedTokens: 8192,
    maxModelLen: 131_072,
  },
  /** vLLM's H100 serving defaults; 307,328 KV tokens = 19,208 blocks of 16 (4,802 of 64). */
  'qwen2.5-32b-h100-tp2': {
    timing: QWEN25_32B_H100_TP2,
    model: 'Qwen/Qwen2.5-32B-Instruct',
    blockSize: 16,
    maxNumSeqs: 1024,
    maxNumBatchedTokens: 8192,
    maxModelLen: 32_768,
  },
  /** 64 blocks of 4 tokens, a 32-token step budget: small enough to see every mechanism. */
  'tiny-test': {
    timing: TINY_TEST,
    model: 'tiny-test',
    blockSize: 4,
    maxNumSeqs: 8,
    maxNumBatchedTokens: 32,
    maxModelLen: 128,
  },
} as const satisfies Record<string, EngineProfile>;

export type ProfileName = keyof typeof ENGINE_PROFILES;

export const PROFILE_NAMES = Object.keys(ENGINE_PROFILES) as ProfileName[];

function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(ENGINE_PROFILES, name);
}

export function getEngineProfile(name: string): EngineProfile {
  if (!isProfileName(name)) {
    throw new RangeError(`unknown engine profile "${name}" (known: ${PROFILE_NAMES.join(', ')})`);
  }
  return ENGINE_PROFILES[name];
}

export function getTimingProfile(name: string): TimingProfile {
  return getEngineProfile(name).timing;
}

/** Names accepted by `getTimingProfile` / `engineConfigFor`. */
export function listTimingProfiles(): string[] {
  return [...PROFILE_NAMES];
}

/**
 * A full engine config for a profile. `numGpuBlocks` follows `blockSize` (the profile's KV
 * capacity in tokens divided by the block size) unless given explicitly.
 */
export function engineConfigFor(name: string, overrides: Partial<EngineConfig> = {}): EngineConfig {
  const profile = getEngineProfile(name);
  const blockSize = overrides.blockSize ?? profile.blockSize;
  return {
    model: profile.model,
    blockSize,
    numGpuBlocks: Math.floor(profile.timing.kvCacheTokens / blockSize),
    maxNumSeqs: profile.maxNumSeqs,
    maxNumBatchedTokens: profile.maxNumBatchedTokens,
    maxModelLen: profile.maxModelLen,
    // llm-d-inference-sim's default bound; vLLM itself queues without limit.
    maxWaitingRequests: 1000,
    // vLLM's default --max-loras.
    maxLoras: 1,
    enablePrefixCaching: true,
    timing: profile.timing,
    hashAlgo: 'sha256',
    // Any fixed seed makes block hashes reproducible across pods; 42 is the reference CI setting
    // (peer-routers.md §11, `--hash-seed 42`).
    pythonHashSeed: '42',
    ...overrides,
  };
}
