/**
 * Token usage from the end of a response, without parsing the body: vLLM puts `usage` last, in
 * the final SSE event (with `stream_options.include_usage`) or at the end of the JSON body, and
 * the Responses API in its `response.completed` event. Only the last few KiB are kept.
 */

/** Bytes kept from the end of the body; the usage object is ~200 bytes. */
const TAIL_BYTES = 8 * 1024;

export interface UsageCounts {
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  readonly cachedTokens?: number;
}

const PROMPT = /"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)/;
const COMPLETION = /"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)/;
const CACHED = /"cached_tokens"\s*:\s*(\d+)/;

/** Counts from the last `"usage"` object in `text`; absent fields stay undefined. */
export function parseUsage(text: string): UsageCounts {
  const at = text.lastIndexOf('"usage"');
  if (at < 0) return {};
  const usage = text.slice(at);
  const counts: { promptTokens?: number; completionTokens?: number; cachedTokens?: number } = {};
  const prompt = PROMPT.exec(usage);
  if (prompt) counts.promptTokens = Number(prompt[1]);
  const completion = COMPLETION.exec(usage);
  if (completion) counts.completionTokens = Number(completion[1]);
  const cached = CACHED.exec(usage);
  if (cached) counts.cachedTokens = Number(cached[1]);
  return counts;
}

/** Keeps references to the last chunks of a body (no copies until `usage()` is called). */
export class UsageTail {
  private chunks: Buffer[] = [];
  private bytes = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0]!.length >= TAIL_BYTES) {
      this.bytes -= this.chunks.shift()!.length;
    }
  }

  usage(): UsageCounts {
    if (this.bytes === 0) return {};
    const tail = Buffer.concat(this.chunks, this.bytes);
    return parseUsage(tail.subarray(Math.max(0, tail.length - TAIL_BYTES)).toString('utf8'));
  }
}
