/**
 * Streams one engine request back to an HTTP client: SSE chunks per token (as vLLM frames them) or
 * one JSON body at the end. Owns the client side of a request: abort handling, the optional
 * mid-stream stall fault, and uWS corking.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { statusLine } from '../../http/openai-error.ts';
import type { RequestObserver, RequestResult } from '../engine/types.ts';
import {
  type ApiKind,
  type ResponseIdentity,
  SSE_DONE,
  fullResponse,
  sseData,
  streamChunk,
  usage,
  usageChunk,
} from './response-format.ts';

export interface CompletionWriterOptions {
  readonly kind: ApiKind;
  readonly ident: ResponseIdentity;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
  readonly promptTokens: number;
  readonly decodeToken: (id: number) => string;
  /** Extra response headers (request id, pod name). */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Stall fault: after this many tokens, hold the stream for stallMs. */
  readonly stallAfterTokens: number | null;
  readonly stallMs: number;
  /** P/D prefill side: the kv_transfer_params to return. */
  readonly kvTransferParams: (result: RequestResult) => unknown;
  readonly onDone: (result: RequestResult) => void;
}

export class CompletionWriter implements RequestObserver {
  private aborted = false;
  private headerSent = false;
  private readonly text: string[] = [];
  private stalledUntil = 0;
  private pending: string[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private finished: RequestResult | null = null;

  constructor(
    private readonly res: HttpResponse,
    private readonly opts: CompletionWriterOptions,
  ) {}

  /** The client went away; nothing may be written to `res` any more. */
  markAborted(): void {
    this.aborted = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }

  get isAborted(): boolean {
    return this.aborted;
  }

  onToken(tokenId: number, index: number): void {
    const piece = this.opts.decodeToken(tokenId);
    if (!this.opts.stream) {
      this.text.push(piece);
      return;
    }
    const chunk = streamChunk(this.opts.kind, this.opts.ident, piece, null, index === 0) as Record<
      string,
      unknown
    >;
    if (this.opts.continuousUsage && this.opts.includeUsage) {
      chunk['usage'] = usage(this.opts.promptTokens, index + 1, 0);
    }
    this.emit(sseData(chunk));
    if (
      this.opts.stallAfterTokens !== null &&
      index + 1 === this.opts.stallAfterTokens &&
      this.opts.stallMs > 0
    ) {
      this.stalledUntil = Date.now() + this.opts.stallMs;
    }
  }

  onFinish(result: RequestResult): void {
    this.finished = result;
    this.opts.onDone(result);
    if (this.aborted) return;
    const finishReason = result.finishReason === 'abort' ? 'abort' : result.finishReason;
    const u = usage(result.promptTokens, result.completionTokens, result.cachedTokens);
    if (!this.opts.stream) {
      const body = fullResponse(
        this.opts.kind,
        this.opts.ident,
        this.text.join(''),
        finishReason,
        u,
        this.opts.kvTransferParams(result),
      );
      this.res.cork(() => {
        this.writeHead('application/json');
        this.res.end(JSON.stringify(body));
      });
      return;
    }
    let tail = sseData(
      streamChunk(
        this.opts.kind,
        this.opts.ident,
        this.opts.kind === 'chat' ? null : '',
        finishReason,
        false,
      ),
    );
    if (this.opts.includeUsage) tail += sseData(usageChunk(this.opts.kind, this.opts.ident, u));
    tail += SSE_DONE;
    this.emit(tail, true);
  }

  private emit(data: string, last = false): void {
    if (this.aborted) return;
    this.pending.push(data);
    if (Date.now() < this.stalledUntil) {
      this.flushTimer ??= setTimeout(() => {
        this.flushTimer = null;
        this.flush(this.finished !== null);
      }, this.stalledUntil - Date.now());
      return;
    }
    if (this.flushTimer) return;
    this.flush(last);
  }

  private flush(last: boolean): void {
    if (this.aborted || this.pending.length === 0) return;
    const data = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.res.cork(() => {
      if (!this.headerSent) this.writeHead('text/event-stream; charset=utf-8');
      if (last) this.res.end(data);
      else this.res.write(data);
    });
  }

  private writeHead(contentType: string): void {
    this.headerSent = true;
    this.res.writeStatus(statusLine(200));
    this.res.writeHeader('content-type', contentType);
    for (const [k, v] of this.opts.headers) this.res.writeHeader(k, v);
  }
}
