/**
 * Mooncake FAST'25 trace format (peer-routers.md §2.8, §7, §11 W7): one JSON object per line,
 * `{"timestamp": ms, "input_length": n, "output_length": m, "hash_ids": [...]}`, where each hash id
 * names a 512-token block of the prompt and equal ids mean equal blocks (the ids are prefix-chained
 * by the trace's producer, so a shared id implies a shared prefix up to it).
 *
 * Tokens are synthesized per hash id from the seed, so identical hash ids give identical token
 * blocks in any request; a trailing partial block is the first `input_length mod 512` tokens of
 * its block, and prompt tokens beyond the listed blocks (if a line lists too few) are unique to
 * the request.
 */
import { z } from 'zod';
import { randomTokens, streamFor } from './token-source.ts';

/** Tokens per hash id in Mooncake's released traces (`--trace-block-size 512` in Dynamo). */
export const MOONCAKE_BLOCK_TOKENS = 512;

const recordSchema = z.object({
  timestamp: z.number().nonnegative(),
  input_length: z.int().positive(),
  output_length: z.int().nonnegative(),
  hash_ids: z.array(z.int().nonnegative()),
});

export type MooncakeRecord = z.output<typeof recordSchema>;

/** Parses JSONL text (blank lines skipped); errors name the line. */
export function parseMooncakeTrace(text: string): MooncakeRecord[] {
  const records: MooncakeRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      throw new Error(`trace line ${i + 1}: not JSON (${(error as Error).message})`);
    }
    const parsed = recordSchema.safeParse(json);
    if (!parsed.success) throw new Error(`trace line ${i + 1}: ${z.prettifyError(parsed.error)}`);
    records.push(parsed.data);
  }
  return records;
}

/** Builds the token ids of one record's prompt. */
export class MooncakeTokenizer {
  private readonly blocks = new Map<number, number[]>();

  constructor(
    private readonly seed: number,
    private readonly blockTokens = MOONCAKE_BLOCK_TOKENS,
  ) {}

  /** The block a hash id stands for (memoized: the same id always gives the same tokens). */
  block(hashId: number): readonly number[] {
    let block = this.blocks.get(hashId);
    if (!block) {
      block = randomTokens(streamFor(this.seed, 'mooncake-block', hashId), this.blockTokens);
      this.blocks.set(hashId, block);
    }
    return block;
  }

  /** Prompt of `record`, exactly `input_length` tokens; `requestIndex` seeds any unlisted tail. */
  prompt(record: MooncakeRecord, requestIndex: number): number[] {
    const out: number[] = [];
    for (const id of record.hash_ids) {
      if (out.length >= record.input_length) break;
      const block = this.block(id);
      const take = Math.min(block.length, record.input_length - out.length);
      for (let i = 0; i < take; i++) out.push(block[i] as number);
    }
    if (out.length < record.input_length) {
      out.push(
        ...randomTokens(
          streamFor(this.seed, 'mooncake-tail', requestIndex),
          record.input_length - out.length,
        ),
      );
    }
    return out;
  }
}
