/**
 * Collect a uWebSockets.js request body with a hard size limit.
 *
 * uWS hands the body over in chunks whose ArrayBuffers are only valid during the callback, so each
 * chunk is copied. The limit is enforced while reading, so an oversized body never gets buffered.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { HttpError } from './openai-error.ts';

export interface BodyReadOptions {
  /** Maximum body size in bytes; larger bodies are answered with 413. */
  readonly limitBytes: number;
  /** Value of the Content-Length header, if present ('' when absent). */
  readonly contentLength: string;
}

/**
 * Resolves with the whole body. Rejects with an HttpError(413) when the body exceeds the limit and
 * with an Error('aborted') when the client goes away. The caller must have registered `onAborted`
 * on `res` and must call `abortBody()` from it.
 */
export function readBody(res: HttpResponse, options: BodyReadOptions): BodyReader {
  return new BodyReader(res, options);
}

export class BodyReader {
  readonly promise: Promise<Buffer>;
  private resolve!: (b: Buffer) => void;
  private reject!: (e: Error) => void;
  private settled = false;

  constructor(res: HttpResponse, options: BodyReadOptions) {
    this.promise = new Promise<Buffer>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    const declared = options.contentLength === '' ? -1 : Number(options.contentLength);
    if (declared > options.limitBytes) {
      this.fail(tooLarge(options.limitBytes));
      // Keep draining nothing: the caller answers 413 and uWS closes the connection.
      res.onData(() => undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (this.settled) return;
      size += chunk.byteLength;
      if (size > options.limitBytes) {
        this.fail(tooLarge(options.limitBytes));
        return;
      }
      // The ArrayBuffer is neutered after this callback returns: copy it.
      chunks.push(Buffer.from(Buffer.from(chunk)));
      if (isLast) {
        this.settled = true;
        this.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      }
    });
  }

  /** Call from the response's onAborted handler. */
  abort(): void {
    this.fail(new Error('aborted'));
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `Request body exceeds the limit of ${limit} bytes.`);
}
