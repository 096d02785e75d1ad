/**
 * Configuration of one simulated vLLM pod: what `vllm serve` flags would set, plus the simulator's
 * own knobs (timing profile, speed factor, tokenizer choice).
 */
import type { EngineConfig } from '../engine/types.ts';

export interface KvEventsConfig {
  /** PUB endpoint with vLLM's bind-or-connect rule, e.g. `tcp://*:5557` (bind) or `tcp://router:5557` (connect). */
  readonly endpoint: string;
  /** ROUTER endpoint for replay requests (always binds); null disables replay. */
  readonly replayEndpoint: string | null;
  /** Topic frame; vLLM deployments use `kv@<pod-ip>:<port>@<model>`. */
  readonly topic: string;
  /** Event generation on the wire: positional arrays (vLLM before 2026-06) or named maps. */
  readonly format: 'array' | 'map';
  /** Hashes as uint64 ints (vLLM default) or raw digest bytes (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=0). */
  readonly hashType: 'int' | 'bytes';
  /** Replay ring size, in batches (vLLM `buffer_steps`). */
  readonly bufferSteps: number;
}

export interface SimPodConfig {
  /** Host to listen on. */
  readonly host: string;
  /** HTTP port; 0 picks a free one. */
  readonly port: number;
  /** Tokenizer: a built-in name (`qwen3`, `llama3_1`), `synthetic`, or a directory with tokenizer.json. */
  readonly tokenizer: string;
  /** LoRA adapters served as extra model names (`--lora-modules name=path`; the path is ignored). */
  readonly loraModules: readonly string[];
  readonly engine: EngineConfig;
  /** Engine seconds per wall second (2 = twice as fast as the modelled GPU). */
  readonly speed: number;
  readonly kvEvents: KvEventsConfig | null;
  /** Maximum request body size in bytes. */
  readonly maxBodyBytes: number;
  /**
   * max_tokens when the request gives none. vLLM defaults to the remaining context; the simulator
   * caps it so an unbounded request does not generate for minutes.
   */
  readonly defaultMaxTokens: number;
  /** Identifier used in logs and the `x-kvedge-sim-pod` response header. */
  readonly name: string;
}
