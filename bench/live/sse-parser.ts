/**
 * Incremental Server-Sent Events parsing for OpenAI streams: feed bytes as they arrive, get the
 * `data:` payload of each complete event (multi-line data joined with "\n"). Comments and other
 * fields are ignored; `[DONE]` is returned like any payload.
 */
export class SseParser {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  /** Payloads of the events completed by `chunk`. */
  push(chunk: Uint8Array): string[] {
    this.buffer += this.decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    const payloads: string[] = [];
    let end = this.buffer.indexOf('\n\n');
    while (end !== -1) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5));
      if (data.length > 0) payloads.push(data.join('\n'));
      end = this.buffer.indexOf('\n\n');
    }
    return payloads;
  }
}
