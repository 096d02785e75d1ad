/**
 * One client request/response on a uWS connection. Owns the uWS HttpResponse, which becomes
 * invalid after `end` or an abort: every write goes through here, corked (writes happen from
 * undici callbacks and after awaits, where uWS does not cork for us), and is refused once the
 * response is over.
 */
import { STATUS_CODES } from 'node:http';
import type { HttpResponse, RecognizedString } from 'uWebSockets.js';
import type { HttpError } from '../http/openai-error.ts';

/** Response headers as name/value pairs (repeatable names, e.g. set-cookie). */
export type HeaderPairs = readonly (readonly [string, string])[];

/** `"200 OK"` for uWS `writeStatus`; relayed upstream statuses keep their own reason phrase. */
export function statusLineOf(status: number, reason?: string): string {
  return `${status} ${reason || STATUS_CODES[status] || 'Unknown'}`;
}

export interface ExchangePolicy {
  /** True while the server drains: responses then ask the client to close the connection. */
  closeConnections(): boolean;
}

type State = 'open' | 'ended' | 'aborted';

const NOTHING = (): void => undefined;

export class ClientExchange {
  /** Status sent (or being streamed) to the client; 0 until a response starts. */
  status = 0;
  /** Resolves when the response ended or the client went away. */
  readonly settled: Promise<void>;
  private state: State = 'open';
  private abortHandler: (() => void) | null = null;
  private head: { line: string; headers: HeaderPairs } | null = null;
  private headWritten = false;
  private resolveSettled!: () => void;

  constructor(
    private readonly res: HttpResponse,
    /** Headers every response of this exchange carries (x-request-id). */
    private readonly baseHeaders: HeaderPairs,
    private readonly policy: ExchangePolicy,
  ) {
    this.settled = new Promise((resolve) => (this.resolveSettled = resolve));
    res.onAborted(() => {
      if (this.state !== 'open') return;
      this.state = 'aborted';
      this.resolveSettled();
      this.abortHandler?.();
    });
  }

  /** The client is still there and nothing final was sent. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  get aborted(): boolean {
    return this.state === 'aborted';
  }

  /** Some part of the response (status line at least) reached uWS. */
  get started(): boolean {
    return this.headWritten;
  }

  /** Called once if the client goes away while the response is open; replaces any earlier handler. */
  onAbort(handler: (() => void) | null): void {
    this.abortHandler = handler;
  }

  /** Send a complete response. No-op once the response is over. */
  respond(status: number, headers: HeaderPairs, body: RecognizedString, closeConnection = false): void {
    if (this.state !== 'open') return;
    this.status = status;
    this.finish();
    this.res.cork(() => {
      this.writeHeadNow(statusLineOf(status), headers);
      this.res.end(body, closeConnection || this.policy.closeConnections());
    });
  }

  respondJson(status: number, value: unknown, headers: HeaderPairs = []): void {
    this.respond(status, [['content-type', 'application/json'], ...headers], JSON.stringify(value));
  }

  /** An OpenAI error body. 413 also closes the connection: the rest of the body may still be coming. */
  respondError(error: HttpError, headers: HeaderPairs = []): void {
    this.respond(
      error.status,
      [['content-type', 'application/json'], ...headers],
      JSON.stringify(error.toBody()),
      error.status === 413,
    );
  }

  /** Set the status and headers of a streamed response; they go out with the first write or end. */
  startStream(status: number, reason: string | undefined, headers: HeaderPairs): void {
    if (this.state !== 'open') return;
    this.status = status;
    this.head = { line: statusLineOf(status, reason), headers };
  }

  /** Write a body chunk (chunked encoding). False when uWS had to buffer it: wait for onWritable. */
  write(chunk: RecognizedString): boolean {
    if (this.state !== 'open') return true;
    let ok = true;
    this.res.cork(() => {
      this.writeStartedHead();
      ok = this.res.write(chunk);
    });
    return ok;
  }

  /**
   * Push uWS's backpressure buffer to the socket. With an onWritable handler registered uWS leaves
   * draining to us, and an empty cork is what flushes it (the uncork writes the pending buffer).
   */
  drain(): void {
    if (this.state === 'open') this.res.cork(NOTHING);
  }

  /** End a streamed response, optionally with a last chunk. */
  end(chunk?: RecognizedString): void {
    if (this.state !== 'open') return;
    this.finish();
    this.res.cork(() => {
      this.writeStartedHead();
      // Not `end(chunk, true)`: after chunked writes uWS would emit its Connection header inside the
      // body. A stream started while draining carries `connection: close` in its head instead.
      this.res.end(chunk);
    });
  }

  /** Drop the connection (a response that cannot be completed must not look complete). */
  close(): void {
    if (this.state !== 'open') return;
    this.finish();
    this.res.close();
  }

  /** Drop the connection on the server's initiative (shutdown): whoever waits on the client is told, as on an abort. */
  terminate(): void {
    if (this.state !== 'open') return;
    const handler = this.abortHandler;
    this.close();
    handler?.();
  }

  /** Called by uWS when a backpressured response can take more; return true unless a write failed. */
  onWritable(handler: () => boolean): void {
    if (this.state === 'open') this.res.onWritable(handler);
  }

  private finish(): void {
    this.state = 'ended';
    this.resolveSettled();
  }

  private writeStartedHead(): void {
    if (this.headWritten) return;
    const head = this.head ?? { line: statusLineOf(this.status || 200), headers: [] };
    this.writeHeadNow(head.line, head.headers);
    if (this.policy.closeConnections()) this.res.writeHeader('connection', 'close');
  }

  private writeHeadNow(line: string, headers: HeaderPairs): void {
    this.headWritten = true;
    this.res.writeStatus(line);
    for (const [name, value] of this.baseHeaders) this.res.writeHeader(name, value);
    for (const [name, value] of headers) this.res.writeHeader(name, value);
  }
}
