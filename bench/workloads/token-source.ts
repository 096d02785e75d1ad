/**
 * Seeded token ids for synthetic prompts. Ids stay below 100,000 so they are valid in both the
 * Llama-3 (128k) and Qwen2.5 (151k) vocabularies: live mode sends the same ids to the sim server,
 * which must be able to decode them.
 */
import { createRandom, type Random } from '../../src/scheduler/prng.ts';

/** Token ids are drawn from [1, VOCAB_LIMIT). */
export const VOCAB_LIMIT = 100_000;

/** `length` uniform token ids. */
export function randomTokens(random: Random, length: number): number[] {
  const out = new Array<number>(length);
  for (let i = 0; i < length; i++) out[i] = 1 + random.nextInt(VOCAB_LIMIT - 1);
  return out;
}

/**
 * An independent, reproducible stream for one labelled purpose (e.g. `('system', 17)`): the seed
 * and labels are mixed with FNV-1a, so adding a stream never shifts the numbers of another.
 */
export function streamFor(seed: number, ...labels: readonly (string | number)[]): Random {
  let h = 0x811c9dc5;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ 0x2f, 0x01000193) >>> 0;
  };
  mix(String(seed));
  for (const label of labels) mix(String(label));
  return createRandom(h);
}

/** A fixed answer of `length` tokens, shared by requests whose answers nobody reads back. */
export function fixedOutput(seed: number, length: number): number[] {
  return randomTokens(streamFor(seed, 'output'), length);
}
