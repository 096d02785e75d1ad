/**
 * Per-pod fault injection, changeable at run time through the pod's admin route. Faults model
 * what a router must survive: errors before the first byte, slow responses, a stream that stalls
 * mid-way, lost KV-event batches. Crash and restart act on the whole pod (see SimPod).
 */
import { z } from 'zod';

export const faultConfigSchema = z.strictObject({
  /** Probability (0..1) that a request is answered with `errorStatus` before any work is done. */
  errorRate: z.number().min(0).max(1).default(0),
  errorStatus: z.union([z.literal(429), z.literal(500), z.literal(502), z.literal(503)]).default(500),
  /** Delay added before a request is admitted to the engine (models a slow network or host). */
  addedLatencyMs: z.number().min(0).max(600_000).default(0),
  /** After this many streamed tokens, hold the stream for `stallMs` (null = never). */
  stallAfterTokens: z.number().int().min(0).nullable().default(null),
  stallMs: z.number().min(0).max(600_000).default(0),
  /** Drop the next N KV-event batches (the subscriber sees a sequence gap). Consumed as batches drop. */
  dropKvBatches: z.number().int().min(0).default(0),
});

export type FaultConfig = z.infer<typeof faultConfigSchema>;

export const NO_FAULTS: FaultConfig = faultConfigSchema.parse({});

/** Mutable fault state of one pod. */
export class FaultState {
  private config: FaultConfig = NO_FAULTS;

  get current(): FaultConfig {
    return this.config;
  }

  /** Merge a partial update (validated); returns the new configuration. */
  update(patch: unknown): FaultConfig {
    const merged = faultConfigSchema.parse({ ...this.config, ...(patch as object) });
    this.config = merged;
    return merged;
  }

  reset(): void {
    this.config = NO_FAULTS;
  }

  /** Whether this request should fail, and with which status. */
  drawError(random: () => number = Math.random): number | null {
    const { errorRate, errorStatus } = this.config;
    if (errorRate > 0 && random() < errorRate) return errorStatus;
    return null;
  }
}
