/** The step-time model shared by every timing profile. */
import type { StepBatch } from './step-batch.ts';
import type { TimingProfile } from './types.ts';

/**
 * Seconds one engine step takes: `a + b*prefillTokens + c*decodeSeqs + d*contextTokens`.
 * `a` is the per-step floor (weights streamed from HBM once per forward pass, launch and
 * scheduler overhead), `b` the compute per prefill token, `c` the marginal cost of one more
 * decoding sequence, `d` the KV read per token of attended context.
 */
export function stepSeconds(
  timing: TimingProfile,
  batch: Pick<StepBatch, 'prefillTokens' | 'decodeSeqs' | 'contextTokens'>,
): number {
  return (
    timing.a + timing.b * batch.prefillTokens + timing.c * batch.decodeSeqs + timing.d * batch.contextTokens
  );
}
