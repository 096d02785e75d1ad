/**
 * The progress line on stderr: rewritten in place on a terminal, a line every few seconds
 * otherwise (CI logs), nothing when disabled.
 */
import { performance } from 'node:perf_hooks';

const PLAIN_INTERVAL_MS = 5000;

export class ProgressDisplay {
  private lastPlainMs = Number.NEGATIVE_INFINITY;
  private readonly started = performance.now();

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly enabled = true,
  ) {}

  /** Seconds since the display was created. */
  elapsedS(): number {
    return (performance.now() - this.started) / 1000;
  }

  update(text: string): void {
    if (!this.enabled) return;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${text}`);
      return;
    }
    const now = performance.now();
    if (now - this.lastPlainMs < PLAIN_INTERVAL_MS) return;
    this.lastPlainMs = now;
    this.stream.write(`${text}\n`);
  }

  /** Ends the in-place line with a final message. */
  finish(text: string): void {
    if (!this.enabled) return;
    this.stream.write(this.stream.isTTY ? `\r\x1b[2K${text}\n` : `${text}\n`);
    this.lastPlainMs = Number.NEGATIVE_INFINITY;
  }
}
